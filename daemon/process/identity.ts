import type { Logger } from "pino";
import { containment, killLeftoverCgroups } from "./cgroup.js";
import { type ProcessIdentity, stopProcessGroup } from "./child.js";
import { isValidPid, processExe, processStartTime, readProcStat, signalReaches } from "./proc-stat.js";
import { readTag, sweepTagged } from "./sweep.js";
import { instanceKey, instancePrefix } from "./tag.js";

/**
 * Process identity: a pid alone is not an identity (pids are reused), and a state file is not a
 * witness (anyone who can write it could name any process). A child record is acted on only when the
 * live process matches it: pid, start time, executable and, on Linux, this daemon's tag in its
 * environment. Where that cannot be read (not Linux or macOS) nothing counts as the same process.
 */
export { isProcessAlive, processStartTime } from "./proc-stat.js";

export async function isSameProcess(pid: number, startTime: string): Promise<boolean> {
  if (startTime === "") return false;
  const current = await processStartTime(pid);
  return current !== undefined && current === startTime;
}

/** One runtime's live child as persisted in state.json (see `ProcessIdentity`). */
export interface ChildRecord extends Omit<ProcessIdentity, "exe"> {
  runtime: string;
  command: string;
  /** Absent in records written before executables were recorded: such a record is never acted on. */
  exe?: string;
}

export interface ReapResult {
  reaped: ChildRecord[];
  skipped: { record: ChildRecord; why: string }[];
  /** Tagged processes and cgroup members of this daemon instance killed by the start-up sweep. */
  swept: number[];
  /** The delegated cgroup runtimes are contained in, or why there is none. */
  containment: { cgroup?: string; whyNot?: string };
}

export interface ReapOptions {
  grace_ms: number;
  /** The daemon's state dir: whose tag a record must carry, and whose leftovers the sweep looks for. */
  stateDir: string;
}

/**
 * Stops what a previous daemon of this state dir left behind. First each recorded child whose
 * identity is proven (its whole group, TERM then KILL after the grace); then, whatever the records
 * say (a record may never have reached the disk), every leftover cgroup and tagged process of this
 * instance. A reused pid or a forged record is never touched.
 */
export async function reapOrphans(records: ChildRecord[], opts: ReapOptions): Promise<ReapResult> {
  const outcomes = await Promise.all(records.map((record) => reapOne(record, opts)));
  const result: ReapResult = { reaped: [], skipped: [], swept: [], containment: {} };
  outcomes.forEach((why, i) => {
    const record = records[i]!;
    if (why === undefined) result.reaped.push(record);
    else result.skipped.push({ record, why });
  });
  const contained = await containment();
  result.containment =
    contained.dir !== undefined ? { cgroup: contained.dir } : { whyNot: contained.whyNot ?? "" };
  const swept = new Set<number>();
  if (contained.dir !== undefined) {
    for (const pid of await killLeftoverCgroups(contained.dir, instanceKey(opts.stateDir))) swept.add(pid);
  }
  for (const pid of await sweepTagged({ prefix: instancePrefix(opts.stateDir) })) swept.add(pid);
  result.swept = [...swept].sort((a, b) => a - b);
  return result;
}

/**
 * Undefined when the live process at `record.pid` is provably the recorded child of this daemon
 * instance, otherwise why not.
 */
export async function verifyChild(record: ChildRecord, stateDir: string): Promise<string | undefined> {
  const { pid, pgid } = record;
  if (!isValidPid(pid) || !isValidPid(pgid)) return `invalid pid ${pid} / pgid ${pgid} in the record`;
  if (pgid !== pid) return `pgid ${pgid} differs from pid ${pid}: rmxd's children lead their own group`;
  if (process.platform !== "linux" && process.platform !== "darwin") {
    return `process identity cannot be checked on ${process.platform}`;
  }
  if (record.start_time === "")
    return `pid ${pid} has no recorded start time, so its identity cannot be checked`;
  const current = await processStartTime(pid);
  if (current === undefined) {
    // The leader is gone; members left in its group cannot be proven ours, so they are left alone
    // (tagged ones are found by the sweep).
    return signalReaches(-pgid)
      ? `pid ${pid} is not running; its process group ${pgid} still has members, left alone because their identity cannot be verified`
      : `pid ${pid} is not running`;
  }
  if (current !== record.start_time) {
    return `pid ${pid} now belongs to another process (start time ${current}, recorded ${record.start_time})`;
  }
  if (record.exe === undefined || record.exe === "") {
    return `pid ${pid} has no recorded executable, so its identity cannot be checked`;
  }
  const exe = await processExe(pid);
  if (exe !== record.exe) {
    return `pid ${pid} runs ${exe ?? "an unreadable executable"}, not the recorded ${record.exe}`;
  }
  if (process.platform === "linux") {
    const prefix = instancePrefix(stateDir);
    if (record.tag === undefined || !record.tag.startsWith(prefix)) {
      return `the record of pid ${pid} carries no tag of this daemon (${prefix}…)`;
    }
    const tag = await readTag(pid);
    if (tag !== record.tag) {
      return `pid ${pid} does not carry the recorded tag RMX_TAG=${record.tag} (has ${tag ?? "none"}): not ours`;
    }
  }
  // A zombie leader still holds its pid (so the group cannot be anyone else's): sweeping it is safe.
  const stat = await readProcStat(pid);
  if (stat !== undefined && stat.pgrp !== pgid) {
    return `pid ${pid} is no longer in process group ${pgid} (now ${stat.pgrp}); not stopping a group it left`;
  }
  return undefined;
}

/** Undefined when reaped, otherwise why not. */
async function reapOne(record: ChildRecord, opts: ReapOptions): Promise<string | undefined> {
  const why = await verifyChild(record, opts.stateDir);
  if (why !== undefined) return why;
  const { pid, pgid, tag } = record;
  // An orphan SIGSTOPped before rmxd died cannot act on SIGTERM and would take the whole grace: let it run.
  try {
    process.kill(-pgid, "SIGCONT");
  } catch {
    // ESRCH: the group is gone
  }
  await stopProcessGroup(
    { pid, pgid, ...(tag === undefined ? {} : { tag }) },
    { signal: "SIGTERM", grace_ms: opts.grace_ms },
  );
  return undefined;
}

/** What a start-up reap did, in the daemon's log: containment, swept and reaped processes, records left alone. */
export function logReap(logger: Logger, result: ReapResult): void {
  logger.info(result.containment, "process containment");
  if (result.swept.length > 0)
    logger.warn({ pids: result.swept }, "stopped processes a previous daemon left running");
  for (const r of result.reaped) {
    logger.warn({ runtime: r.runtime, pid: r.pid }, "stopped a backend left running by a previous daemon");
  }
  for (const s of result.skipped) {
    logger.info({ runtime: s.record.runtime, pid: s.record.pid, why: s.why }, "previous child not stopped");
  }
}
