import { readdir, readFile } from "node:fs/promises";
import { readProcStat } from "./proc-stat.js";
import { TAG_ENV } from "./tag.js";

/**
 * The /proc sweep: finds processes by the tag in their environment, whatever their process group or
 * session (a `setsid` escapee) and whoever their parent (a grandchild whose leader exited). Linux
 * only; elsewhere it finds nothing. Processes of other users are unreadable (EACCES) and skipped:
 * they could not be signalled anyway.
 */

export type TagMatch = { exact: string } | { prefix: string };

/** Rounds of find-and-kill: a process forking while it is swept leaves children for the next round. */
const MAX_ROUNDS = 20;
/** How long one round waits for its SIGKILLed processes to die (uninterruptible sleep can hold them). */
const DEATH_WAIT_MS = 2000;

/** The value of `RMX_TAG` in /proc/<pid>/environ; undefined when absent, unreadable or gone. */
export async function readTag(pid: number): Promise<string | undefined> {
  let environ: Buffer;
  try {
    environ = await readFile(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  }
  const key = `${TAG_ENV}=`;
  for (const entry of environ.toString("utf8").split("\0")) {
    if (entry.startsWith(key)) return entry.slice(key.length);
  }
  return undefined;
}

function matches(tag: string, match: TagMatch): boolean {
  return "exact" in match ? tag === match.exact : tag.startsWith(match.prefix);
}

/** Live (not zombie) processes whose tag matches, never this process itself. */
export async function findTagged(match: TagMatch): Promise<number[]> {
  if (process.platform !== "linux") return [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const found: number[] = [];
  await Promise.all(
    entries.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      const pid = Number(name);
      if (pid === process.pid) return;
      const tag = await readTag(pid);
      if (tag === undefined || !matches(tag, match)) return;
      const stat = await readProcStat(pid);
      if (stat === undefined || stat.state === "Z" || stat.state === "X") return;
      found.push(pid);
    }),
  );
  return found.sort((a, b) => a - b);
}

/**
 * SIGKILLs every tagged process, again and again until a scan finds none (or the rounds run out).
 * Resolves with the pids it signalled. A process that vanished meanwhile (ESRCH) is fine.
 */
export async function sweepTagged(match: TagMatch): Promise<number[]> {
  const killed = new Set<number>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const pids = await findTagged(match);
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

/** SIGKILL is not instant: wait (bounded) until each is a zombie or gone, so the next scan sees news only. */
async function untilDead(pids: number[]): Promise<void> {
  const deadline = Date.now() + DEATH_WAIT_MS;
  let pending = pids;
  while (pending.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const states = await Promise.all(pending.map((pid) => readProcStat(pid)));
    pending = pending.filter((_, i) => {
      const state = states[i]?.state;
      return state !== undefined && state !== "Z" && state !== "X";
    });
  }
}
