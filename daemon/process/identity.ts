import { stopProcessGroup } from "./child.js";
import { isValidPid, processStartTime, readProcStat, signalReaches } from "./proc-stat.js";

/**
 * Process identity: a pid alone is not an identity (pids are reused), a pid plus its start time is.
 * Where the start time cannot be read (not Linux or macOS) nothing counts as the same process, so
 * nothing is ever reaped.
 */
export { isProcessAlive, processStartTime } from "./proc-stat.js";

export async function isSameProcess(pid: number, startTime: string): Promise<boolean> {
  if (startTime === "") return false;
  const current = await processStartTime(pid);
  return current !== undefined && current === startTime;
}

export interface ChildRecord {
  runtime: string;
  pid: number;
  pgid: number;
  start_time: string;
  command: string;
}

export interface ReapResult {
  reaped: ChildRecord[];
  skipped: { record: ChildRecord; why: string }[];
}

/**
 * Stops children a previous daemon left behind. Only a process whose pid AND start time both match
 * the record is stopped (its whole group, TERM then KILL after the grace); a reused pid is never touched.
 */
export async function reapOrphans(records: ChildRecord[], opts: { grace_ms: number }): Promise<ReapResult> {
  const outcomes = await Promise.all(records.map((record) => reapOne(record, opts.grace_ms)));
  const result: ReapResult = { reaped: [], skipped: [] };
  outcomes.forEach((why, i) => {
    const record = records[i]!;
    if (why === undefined) result.reaped.push(record);
    else result.skipped.push({ record, why });
  });
  return result;
}

/** Undefined when reaped, otherwise why not. */
async function reapOne(record: ChildRecord, graceMs: number): Promise<string | undefined> {
  const { pid, pgid } = record;
  if (!isValidPid(pid) || !isValidPid(pgid)) return `invalid pid ${pid} / pgid ${pgid} in the record`;
  if (process.platform !== "linux" && process.platform !== "darwin") {
    return `process identity cannot be checked on ${process.platform}`;
  }
  if (record.start_time === "")
    return `pid ${pid} has no recorded start time, so its identity cannot be checked`;
  const current = await processStartTime(pid);
  if (current === undefined) {
    // The leader is gone; members left in its group cannot be proven ours, so they are left alone.
    return pgid === pid && signalReaches(-pgid)
      ? `pid ${pid} is not running; its process group ${pgid} still has members, left alone because their identity cannot be verified`
      : `pid ${pid} is not running`;
  }
  if (current !== record.start_time) {
    return `pid ${pid} now belongs to another process (start time ${current}, recorded ${record.start_time})`;
  }
  // A zombie leader still holds its pid (so the group cannot be anyone else's): sweeping it is safe.
  const stat = await readProcStat(pid);
  if (stat !== undefined && stat.pgrp !== pgid) {
    return `pid ${pid} is no longer in process group ${pgid} (now ${stat.pgrp}); not stopping a group it left`;
  }
  await stopProcessGroup({ pid, pgid }, { signal: "SIGTERM", grace_ms: graceMs });
  return undefined;
}
