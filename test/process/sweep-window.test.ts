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

describe.runIf(process.platform === "linux")("the narrowed /proc sweep", () => {
  it("starts at the leader's pid only while no wrap of the pid counter is possible", async () => {
    expect(await lowestCandidate(undefined)).toBe(0);
    const leader = process.pid;
    expect(await lowestCandidate({ pid: leader, agoMs: 1 })).toBe(leader);
    // A leader pid above the last one handed out: the counter wrapped since its fork.
    expect(await lowestCandidate({ pid: lastPid() + 1000, agoMs: 1 })).toBe(0);
    // Forked so long ago that pid_max forks could have happened since: read everything.
    expect(await lowestCandidate({ pid: leader, agoMs: pidMax() })).toBe(0);
  });

  it("finds what was forked after the leader, skips pids below it, and sweeps the same way", async () => {
    const tag = `${instancePrefix(`/tmp/rmx-window-${process.pid}`)}a/1.x`;
    const first = escapee(tag);
    const second = escapee(tag);
    expect(second).toBeGreaterThan(first); // no wrap between two spawns of this test (else it says why)
    expect(await findTagged({ exact: tag }, { pid: first, agoMs: 5 })).toEqual([first, second]);
    // Narrowed from above the first: only the second is read (the first is below the window).
    expect(await findTagged({ exact: tag }, { pid: first + 1, agoMs: 5 })).toEqual([second]);
    // Too old for the window: the full scan finds both.
    expect(await findTagged({ exact: tag }, { pid: first + 1, agoMs: pidMax() })).toEqual([first, second]);
    expect((await sweepTagged({ exact: tag }, { pid: first, agoMs: 5 })).sort((a, b) => a - b)).toEqual([
      first,
      second,
    ]);
    expect(await findTagged({ exact: tag })).toEqual([]);
  });
});
