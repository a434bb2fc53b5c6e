/** What the bench children write about themselves (see children/*.mjs): the common yardstick of every peer. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const CRASH_CHILD = fileURLToPath(new URL("../children/crash-child.mjs", import.meta.url));
export const HTTP_CHILD = fileURLToPath(new URL("../children/http-child.mjs", import.meta.url));
export const ECHO_SERVER = fileURLToPath(new URL("../children/echo-server.mjs", import.meta.url));

/** Epoch milliseconds with sub-millisecond precision, comparable with the children's records. */
export function epochNow() {
  return performance.timeOrigin + performance.now();
}

function lines(file) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

export function recordCount(file) {
  return lines(file).length;
}

/** Crash-child lives, in start order: {origin, start, exit}. */
export function crashLives(file) {
  return lines(file)
    .map((line) => {
      const [origin, start, exit] = line.split(" ").map(Number);
      return { origin, start, exit };
    })
    .sort((a, b) => a.start - b.start);
}

/** HTTP children: id → first time it was listening. */
export function listening(file) {
  const firstSeen = new Map();
  for (const line of lines(file)) {
    const [id, at] = line.split(" ");
    if (!firstSeen.has(id)) firstSeen.set(id, Number(at));
  }
  return firstSeen;
}

/** `count` HTTP child programs that record into `record`. */
export function httpPrograms(count, record, prefix = "svc") {
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}-${String(i + 1).padStart(3, "0")}`;
    return { id, script: HTTP_CHILD, env: { BENCH_RECORD: record, BENCH_CHILD_ID: id } };
  });
}

export function recordFile(dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, "");
  return file;
}
