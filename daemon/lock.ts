/**
 * One daemon per state dir: a pid file holding pid and start time, so a stale file left by a
 * crashed daemon (or a reused pid) never blocks a start, and two daemons never reap each other's children.
 * The file appears atomically, complete, or not at all (written aside, then hard-linked into place), so two
 * daemons starting at the same moment cannot both take it.
 */

import path from "node:path";
import { randomHex } from "../base/entropy.js";
import { RmxError } from "../base/errors.js";
import * as fs from "../base/fs-async.js";
import { isProcessAlive, isSameProcess, processStartTime } from "./process/identity.js";

export interface DaemonLock {
  file: string;
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  start_time: string;
}

/** Attempts at replacing a stale file before giving up (another daemon keeps winning the race). */
const ATTEMPTS = 5;

async function readHolder(file: string): Promise<Holder | undefined> {
  try {
    const value = JSON.parse(await fs.readFile(file, "utf8")) as Partial<Holder>;
    if (typeof value.pid === "number" && typeof value.start_time === "string") {
      return { pid: value.pid, start_time: value.start_time };
    }
  } catch {
    // missing, unreadable or not JSON: no holder
  }
  return undefined;
}

/** Where the start time is unknown (no /proc), a live pid is taken as the holder: refusing beats doubling. */
function holderAlive(holder: Holder): Promise<boolean> {
  return holder.start_time === "" ? isProcessAlive(holder.pid) : isSameProcess(holder.pid, holder.start_time);
}

function alreadyRunning(holder: Holder, stateDir: string): RmxError {
  return new RmxError("ALREADY_RUNNING", `already running (pid ${holder.pid}; state dir ${stateDir})`, {
    pid: holder.pid,
    state_dir: stateDir,
  });
}

export async function acquireDaemonLock(stateDir: string): Promise<DaemonLock> {
  const file = path.join(stateDir, "rmxd.pid");
  const mine: Holder = { pid: process.pid, start_time: (await processStartTime(process.pid)) ?? "" };
  const aside = path.join(stateDir, `.rmxd.pid.${process.pid}.${randomHex(4)}`);
  await fs.writeFile(aside, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await fs.link(aside, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = await readHolder(file);
      if (holder && holder.pid !== process.pid && (await holderAlive(holder)))
        throw alreadyRunning(holder, stateDir);
      if (attempt >= ATTEMPTS) {
        throw new RmxError("ALREADY_RUNNING", `could not take ${file}: another rmxd keeps starting`, {
          state_dir: stateDir,
        });
      }
      // Stale: remove it only if it is still the file judged stale (not one another daemon just put there).
      const again = await readHolder(file);
      if (again?.pid === holder?.pid && again?.start_time === holder?.start_time) {
        await fs.unlink(file).catch(() => undefined);
      }
    }
  } finally {
    await fs.unlink(aside).catch(() => undefined);
  }
  return {
    file,
    async release() {
      const current = await readHolder(file);
      if (current?.pid === process.pid) await fs.unlink(file).catch(() => undefined);
    },
  };
}
