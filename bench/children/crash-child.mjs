/**
 * The crash-loop child: records when it started running and when it exits, then exits at once with
 * code 1. One line per life, appended to BENCH_RECORD: `<timeOrigin> <start> <exit>` in epoch ms
 * (`performance.timeOrigin` is the process's birth; `start` is when this script runs).
 */
import { appendFileSync } from "node:fs";

const start = performance.timeOrigin + performance.now();
const record = process.env.BENCH_RECORD;
if (!record) {
  process.stderr.write("crash-child: BENCH_RECORD is not set\n");
  process.exit(2);
}
const exit = performance.timeOrigin + performance.now();
appendFileSync(record, `${performance.timeOrigin} ${start} ${exit}\n`);
process.exit(1);
