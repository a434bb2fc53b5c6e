import { execFile } from "node:child_process";
import { readdir, readFile, readlink } from "../../base/fs-async.js";

/**
 * What the kernel says about a pid. Linux reads `/proc/<pid>/stat`; macOS asks `ps`; elsewhere the
 * start time is unknown, so callers never treat a pid as a proven identity there.
 */

export interface ProcStat {
  /** One letter: R, S, D, Z (zombie), T, … */
  state: string;
  pgrp: number;
  /** Threads still in the thread group (field 20); a zombie leader counts itself. */
  threads: number;
  /** Clock ticks since boot (field 22). */
  startTime: string;
}

/**
 * Whether the process has exited for good: gone (X), or a zombie whose other threads have exited too. A
 * multithreaded process that is SIGKILLed shows its leader as a zombie (Z) while the other threads are
 * still exiting, and until the last of them has, the process still holds its files and sockets: a Node
 * process killed beside its port showed Z with its port still bound in 51 of 60 tries.
 */
export function hasExited(stat: ProcStat): boolean {
  return stat.state === "X" || (stat.state === "Z" && stat.threads <= 1);
}

export function isValidPid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 1;
}

/** Linux only. The command name (field 2) is in parentheses and may itself contain ") ", so parse after the last ')'. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  if (process.platform !== "linux" || !isValidPid(pid)) return undefined;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // After ") " come field 3 (state), 4 (ppid), 5 (pgrp) … 20 (num_threads) … 22 (starttime).
  const fields = text
    .slice(close + 2)
    .trim()
    .split(" ");
  const state = fields[0];
  const pgrp = Number(fields[2]);
  const threads = Number(fields[17]);
  const startTime = fields[19];
  if (state === undefined || state === "" || startTime === undefined || !/^\d+$/.test(startTime))
    return undefined;
  if (!Number.isInteger(pgrp) || !Number.isInteger(threads)) return undefined;
  return { state, pgrp, threads, startTime };
}

function psStartTime(pid: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("ps", ["-o", "lstart=", "-p", String(pid)], { timeout: 5000 }, (error, stdout) => {
      const value = String(stdout).trim();
      resolve(error || value === "" ? undefined : value);
    });
  });
}

/** Identity half of (pid, start time); undefined when the process is gone or the platform cannot tell. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  if (!isValidPid(pid)) return undefined;
  if (process.platform === "linux") return (await readProcStat(pid))?.startTime;
  if (process.platform === "darwin") return psStartTime(pid);
  return undefined;
}

function psCommand(pid: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("ps", ["-o", "comm=", "-p", String(pid)], { timeout: 5000 }, (error, stdout) => {
      const value = String(stdout).trim();
      resolve(error || value === "" ? undefined : value);
    });
  });
}

/**
 * The executable a process runs: `/proc/<pid>/exe` on Linux (what the kernel mapped, not what argv
 * claims), `ps -o comm=` on macOS; undefined when gone, not ours to read, or unknown on the platform.
 */
export async function processExe(pid: number): Promise<string | undefined> {
  if (!isValidPid(pid)) return undefined;
  if (process.platform === "linux") return readlink(`/proc/${pid}/exe`).catch(() => undefined);
  if (process.platform === "darwin") return psCommand(pid);
  return undefined;
}

/** Whether signal 0 reaches `target` (a pid, or a negative pgid); EPERM means it exists but is not ours. */
export function signalReaches(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * True while the process exists and has not exited. A zombie (exited, not yet reaped by its parent)
 * counts as gone once its last thread has exited (see hasExited): it then holds nothing but its pid.
 */
export async function isProcessAlive(pid: number): Promise<boolean> {
  if (!isValidPid(pid) || !signalReaches(pid)) return false;
  if (process.platform !== "linux") return true;
  const stat = await readProcStat(pid);
  return stat !== undefined && !hasExited(stat);
}

/** Linux only: the live members of a process group with their command names (`/proc/<pid>/comm`). */
export async function groupMembers(pgid: number): Promise<{ pid: number; comm: string }[]> {
  if (process.platform !== "linux") return [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const members: { pid: number; comm: string }[] = [];
  await Promise.all(
    entries.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      const pid = Number(name);
      const stat = await readProcStat(pid);
      if (!stat || stat.pgrp !== pgid || hasExited(stat)) return;
      const comm = await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
      members.push({ pid, comm: comm.trim() });
    }),
  );
  return members;
}
