// TEMPORARY timing marks (RMX_RESPAWN_MARKS=file); removed after the measurement.
import { appendFileSync } from "node:fs";
const file = process.env.RMX_RESPAWN_MARKS;
let marks: string[] = [];
export function mark(name: string): void {
  if (file) marks.push(`${name}=${(performance.timeOrigin + performance.now()).toFixed(3)}`);
}
export function flushMarks(): void {
  if (!file || marks.length === 0) return;
  const out = marks;
  marks = [];
  setTimeout(() => appendFileSync(file, `${out.join(" ")}\n`), 20);
}
