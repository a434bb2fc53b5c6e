import { close, open, read } from "node:fs";
import { readdir, readFile } from "../../base/fs-async.js";
import { monotonicMs } from "../../base/monotonic.js";
import { hasExited, readProcStat } from "./proc-stat.js";
import { TAG_ENV } from "./tag.js";

/**
 * The /proc sweep: finds processes by the tag in their environment, whatever their process group or
 * session (a `setsid` escapee) and whoever their parent (a grandchild whose leader exited). Linux
 * only; elsewhere it finds nothing. Processes of other users are unreadable (EACCES) and skipped:
 * they could not be signalled anyway.
 */

export type TagMatch = { exact: string } | { prefix: string };

/**
 * What narrows a sweep to processes forked after a given one (the unit's leader): Linux hands out pids
 * in increasing order until the counter wraps at pid_max, so without a wrap every descendant of the
 * leader has a larger pid. Reading /proc/<pid>/environ of every process costs tens of ms on a busy
 * machine, on the respawn path; pids below the leader's are skipped when no wrap can have happened.
 */
export interface ForkedAfter {
  pid: number;
  /** How long ago that process was forked (ms): bounds how many pids can have been handed out since. */
  agoMs: number;
}

/** A generous bound on the fork rate (pids per ms): a full wrap needs pid_max forks at least. */
const MAX_FORKS_PER_MS = 1000;

async function readNumber(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, "latin1")).trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The lowest pid worth reading, or 0 (read all) when the pid counter may have wrapped since `after`. */
export async function lowestCandidate(after: ForkedAfter | undefined): Promise<number> {
  if (after === undefined) return 0;
  const [last, max] = await Promise.all([
    readNumber("/proc/sys/kernel/ns_last_pid"),
    readNumber("/proc/sys/kernel/pid_max"),
  ]);
  if (last === undefined || max === undefined || last < after.pid) return 0; // unknown, or wrapped
  if (Math.max(0, after.agoMs) * MAX_FORKS_PER_MS >= max - (last - after.pid)) return 0; // could have gone round
  return after.pid;
}

/** Rounds of find-and-kill: a process forking while it is swept leaves children for the next round. */
const MAX_ROUNDS = 20;
/** How long one round waits for its SIGKILLed processes to die (uninterruptible sleep can hold them). */
const DEATH_WAIT_MS = 2000;

/** Read size for /proc/<pid>/environ; larger environments take more reads into a grown buffer. */
const ENVIRON_CHUNK = 16 * 1024;

/**
 * The whole of a /proc file with one open, reads until EOF and a close, on callbacks: the sweep reads
 * one per process on the respawn path, and `fs.promises.readFile` (an fstat more, a promise per step)
 * costs it two to three times as much. Undefined when unreadable or gone.
 */
function readProcFile(file: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    open(file, "r", (openError, fd) => {
      if (openError) return resolve(undefined);
      let buffer = Buffer.allocUnsafe(ENVIRON_CHUNK);
      let length = 0;
      const finish = (result: Buffer | undefined) => close(fd, () => resolve(result));
      const next = (): void => {
        if (length === buffer.length) {
          const grown = Buffer.allocUnsafe(buffer.length * 2);
          buffer.copy(grown, 0, 0, length);
          buffer = grown;
        }
        read(fd, buffer, length, buffer.length - length, null, (readError, n) => {
          if (readError) return finish(undefined);
          if (n === 0) return finish(buffer.subarray(0, length));
          length += n;
          next();
        });
      };
      next();
    });
  });
}

/** The value of `RMX_TAG` in /proc/<pid>/environ; undefined when absent, unreadable or gone. */
export async function readTag(pid: number): Promise<string | undefined> {
  const environ = await readProcFile(`/proc/${pid}/environ`);
  if (environ === undefined) return undefined;
  const key = `${TAG_ENV}=`;
  for (const entry of environ.toString("utf8").split("\0")) {
    if (entry.startsWith(key)) return entry.slice(key.length);
  }
  return undefined;
}

function matches(tag: string, match: TagMatch): boolean {
  return "exact" in match ? tag === match.exact : tag.startsWith(match.prefix);
}

/**
 * Processes whose tag matches and that have not exited (a zombie leader whose threads are still exiting
 * counts: it holds its sockets until they have), never this process itself.
 */
export async function findTagged(match: TagMatch, after?: ForkedAfter): Promise<number[]> {
  if (process.platform !== "linux") return [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const lowest = await lowestCandidate(after);
  const found: number[] = [];
  await Promise.all(
    entries.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      const pid = Number(name);
      if (pid === process.pid || pid < lowest) return;
      const tag = await readTag(pid);
      if (tag === undefined || !matches(tag, match)) return;
      const stat = await readProcStat(pid);
      if (stat === undefined || hasExited(stat)) return;
      found.push(pid);
    }),
  );
  return found.sort((a, b) => a - b);
}

/**
 * SIGKILLs every tagged process, again and again until a scan finds none (or the rounds run out).
 * Resolves with the pids it signalled. A process that vanished meanwhile (ESRCH) is fine.
 */
export async function sweepTagged(match: TagMatch, after?: ForkedAfter): Promise<number[]> {
  const killed = new Set<number>();
  const since = monotonicMs();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const pids = await findTagged(
      match,
      after === undefined ? undefined : { pid: after.pid, agoMs: after.agoMs + monotonicMs() - since },
    );
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed.add(pid);
      } catch {
        // ESRCH: gone; EPERM: not ours to stop
      }
    }
    await untilDead(pids);
  }
  return [...killed];
}

/**
 * SIGKILL is not instant: wait (bounded) until each has exited (see hasExited: its last thread too, so its
 * port is free), so the next scan sees news only.
 */
async function untilDead(pids: number[]): Promise<void> {
  const deadline = Date.now() + DEATH_WAIT_MS;
  let pending = pids;
  while (pending.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const states = await Promise.all(pending.map((pid) => readProcStat(pid)));
    pending = pending.filter((_, i) => {
      const stat = states[i];
      return stat !== undefined && !hasExited(stat);
    });
  }
}
