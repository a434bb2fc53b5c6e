// TEMPORARY respawn-path timing (RMX_TRACE_RESPAWN=FILE); removed before the commit.
import { appendFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const file = process.env.RMX_TRACE_RESPAWN;
const lines: string[] = [];
export function mark(name: string): void {
  if (file === undefined) return;
  lines.push(`${name} ${performance.timeOrigin + performance.now()}`);
  if (lines.length > 200) flush();
}
function flush(): void {
  if (file === undefined || lines.length === 0) return;
  appendFileSync(file, `${lines.join("\n")}\n`);
  lines.length = 0;
}
process.on("exit", flush);
