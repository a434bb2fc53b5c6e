/**
 * The respawn-path sweep reads only pids forked after the unit's leader when the pid counter cannot
 * have wrapped since (see ForkedAfter in daemon/process/sweep.ts), and everything otherwise.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { findTagged, lowestCandidate, sweepTagged } from "../../daemon/process/sweep.js";
import { instancePrefix } from "../../daemon/process/tag.js";

const strays: number[] = [];
afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
});

function escapee(tag: string): number {
  const child = spawn("sleep", ["1000"], {
    detached: true,
    env: { PATH: process.env.PATH, RMX_TAG: tag },
    stdio: "ignore",
  });
  child.unref();
  strays.push(child.pid as number);
  return child.pid as number;
}

const lastPid = () => Number(readFileSync("/proc/sys/kernel/ns_last_pid", "latin1"));
const pidMax = () => Number(readFileSync("/proc/sys/kernel/pid_max", "latin1"));

/**
 * Runs `attempt` until a run saw no wrap of the pid counter (the last pid handed out did not go down
 * while it ran): pid_max is 32768 on many machines, and a CI run forks thousands of processes, so a
 * wrap in the middle of a test happens. The assertions are on the result of a run without one.
 */
async function withoutWrap<T>(attempt: (round: number) => Promise<T>): Promise<T> {
  const rounds = 5;
  for (let round = 0; round < rounds; round++) {
    const before = lastPid();
    const result = await attempt(round);
    if (lastPid() >= before) return result;
  }
  throw new Error(`the pid counter wrapped during each of ${rounds} attempts`);
}

describe.runIf(process.platform === "linux")("the narrowed /proc sweep", () => {
  it("starts at the leader's pid only while no wrap of the pid counter is possible", async () => {
    expect(await lowestCandidate(undefined)).toBe(0);
    // A leader forked by this test: the worker's own pid can be above the last one handed out.
    const { leader, lowest } = await withoutWrap(async (round) => {
      const leader = escapee(`rmx-window-leader-${round}`);
      return { leader, lowest: await lowestCandidate({ pid: leader, agoMs: 1 }) };
    });
    expect(lowest).toBe(leader);
    // A leader pid above the last one handed out: the counter wrapped since its fork.
    expect(await lowestCandidate({ pid: lastPid() + 1000, agoMs: 1 })).toBe(0);
    // Forked so long ago that pid_max forks could have happened since: read everything.
    expect(await lowestCandidate({ pid: leader, agoMs: pidMax() })).toBe(0);
  });

  it("finds what was forked after the leader, skips pids below it, and sweeps the same way", async () => {
    const seen = await withoutWrap(async (round) => {
      const tag = `${instancePrefix(`/tmp/rmx-window-${process.pid}`)}a/${round}.x`;
      const first = escapee(tag);
      const second = escapee(tag);
      return {
        first,
        second,
        fromFirst: await findTagged({ exact: tag }, { pid: first, agoMs: 5 }),
        // Narrowed from above the first: only the second is read (the first is below the window).
        fromAbove: await findTagged({ exact: tag }, { pid: first + 1, agoMs: 5 }),
        // Too old for the window: the full scan finds both.
        tooOld: await findTagged({ exact: tag }, { pid: first + 1, agoMs: pidMax() }),
        swept: (await sweepTagged({ exact: tag }, { pid: first, agoMs: 5 })).sort((a, b) => a - b),
        left: await findTagged({ exact: tag }),
      };
    });
    const { first, second } = seen;
    expect(second).toBeGreaterThan(first);
    expect(seen.fromFirst).toEqual([first, second]);
    expect(seen.fromAbove).toEqual([second]);
    expect(seen.tooOld).toEqual([first, second]);
    expect(seen.swept).toEqual([first, second]);
    expect(seen.left).toEqual([]);
  });
});
