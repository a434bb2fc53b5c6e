/**
 * One daemon per state dir: a pid file holding pid and start time, so a stale file left by a
 * crashed daemon (or a reused pid) never blocks a start, and two daemons never reap each other's children.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { RmxError } from "./errors.js";
import { writeFileAtomic } from "./persist/atomic.js";
import { isSameProcess, processStartTime } from "./process/identity.js";

export interface DaemonLock {
  file: string;
  release(): Promise<void>;
}

export async function acquireDaemonLock(stateDir: string): Promise<DaemonLock> {
  const file = path.join(stateDir, "rmxd.pid");
  let previous: { pid?: unknown; start_time?: unknown } | undefined;
  try {
    previous = JSON.parse(await fs.readFile(file, "utf8"));
  } catch {
    previous = undefined;
  }
  if (
    previous &&
    typeof previous.pid === "number" &&
    typeof previous.start_time === "string" &&
    previous.pid !== process.pid &&
    (await isSameProcess(previous.pid, previous.start_time))
  ) {
    throw new RmxError("ALREADY_RUNNING", `already running (pid ${previous.pid}; state dir ${stateDir})`, {
      pid: previous.pid,
      state_dir: stateDir,
    });
  }
  const startTime = (await processStartTime(process.pid)) ?? "";
  await writeFileAtomic(file, `${JSON.stringify({ pid: process.pid, start_time: startTime })}\n`);
  return {
    file,
    async release() {
      try {
        const current = JSON.parse(await fs.readFile(file, "utf8"));
        if (current.pid === process.pid) await fs.unlink(file);
      } catch {
        // already gone
      }
    },
  };
}
