import type { ChildProcess } from "node:child_process";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { ChildRecord } from "../../daemon/process/identity.js";
import {
  isProcessAlive,
  isSameProcess,
  processStartTime,
  reapOrphans,
} from "../../daemon/process/identity.js";
import { hasExited, parseProcStat, processExe } from "../../daemon/process/proc-stat.js";
import { instancePrefix } from "../../daemon/process/tag.js";
import { waitFor } from "./fixtures.js";

const run = promisify(execFile);
/** Never created: only the instance key (tags) is derived from it. */
const stateDir = `/tmp/rmx-identity-test-${process.pid}`;
const leftBehind: number[] = [];
const holders: ChildProcess[] = [];

afterEach(() => {
  for (const holder of holders.splice(0)) holder.kill("SIGKILL");
  for (const pgid of leftBehind.splice(0)) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {}
  }
});

const memberScript =
  'process.on("SIGTERM", () => {}); console.log("member " + process.pid); setInterval(() => {}, 1000);';
/** Leads a group with one member that ignores SIGTERM; prints `member <pid>` once the member is ready. */
const groupLeaderScript = `
  const { spawn } = require("node:child_process");
  const m = spawn(process.execPath, ["-e", ${JSON.stringify(memberScript)}], { stdio: ["ignore", "pipe", "ignore"] });
  m.stdout.once("data", (d) => { process.stdout.write(String(d)); process.stdout.end(); });
  setInterval(() => {}, 1000);`;

/**
 * What a crashed daemon leaves behind: a launcher starts a detached group (leader + one member that
 * ignores SIGTERM) and exits, so the group is nobody's child of ours. Resolves with both pids.
 */
async function leaveOrphanGroup(tag?: string): Promise<{ leader: number; member: number }> {
  const env = tag === undefined ? "process.env" : `{ ...process.env, RMX_TAG: ${JSON.stringify(tag)} }`;
  const launcher = `
    const { spawn } = require("node:child_process");
    const leader = spawn(process.execPath, ["-e", ${JSON.stringify(groupLeaderScript)}], { detached: true, env: ${env}, stdio: ["ignore", "pipe", "ignore"] });
    leader.stdout.once("data", (d) => { console.log(leader.pid + " " + String(d).trim().split(" ")[1]); process.exit(0); });`;
  const { stdout } = await run(process.execPath, ["-e", launcher]);
  const [leader, member] = stdout.trim().split(" ").map(Number) as [number, number];
  leftBehind.push(leader);
  return { leader, member };
}

describe("process identity", () => {
  it("reads a stable start time for a live process and nothing for a missing one", async () => {
    const first = await processStartTime(process.pid);
    expect(first).toMatch(/\S/);
    expect(await processStartTime(process.pid)).toBe(first);
    expect(await processStartTime(99_999_999)).toBeUndefined();
    expect(await processStartTime(1.5)).toBeUndefined();
  });

  it("isSameProcess needs both the pid and the start time to match", async () => {
    const start = (await processStartTime(process.pid))!;
    expect(await isSameProcess(process.pid, start)).toBe(true);
    expect(await isSameProcess(process.pid, `${start}1`)).toBe(false);
    expect(await isSameProcess(process.pid, "")).toBe(false);
    expect(await isSameProcess(99_999_999, start)).toBe(false);
  });

  it.runIf(process.platform === "linux")(
    "parses /proc/<pid>/stat whatever the command name contains (after the last ')')",
    () => {
      fc.assert(
        fc.property(
          fc.string({ unit: fc.constantFrom("a", " ", ")", "(", "x", "1"), maxLength: 15 }),
          fc.constantFrom("R", "S", "D", "Z", "T"),
          fc.integer({ min: 1, max: 4_194_304 }),
          fc.bigInt({ min: 0n, max: 2n ** 62n }),
          fc.integer({ min: 1, max: 4096 }),
          (comm, state, pgrp, start, threads) => {
            // Fields 1..52 as the kernel writes them; 5 = pgrp, 20 = num_threads, 22 = starttime.
            const after = Array.from({ length: 50 }, (_, i) => String(i + 3));
            after[0] = state;
            after[2] = String(pgrp);
            after[17] = String(threads);
            after[19] = String(start);
            const text = `4242 (${comm}) ${after.join(" ")}\n`;
            const stat = parseProcStat(text);
            expect(stat).toEqual({ state, pgrp, threads, startTime: String(start) });
            // Exited for good only as a zombie whose other threads are gone too.
            expect(hasExited(stat!)).toBe(state === "Z" && threads === 1);
          },
        ),
      );
      expect(parseProcStat("garbage")).toBeUndefined();
    },
  );
});

describe.runIf(process.platform === "linux" || process.platform === "darwin")("reapOrphans", () => {
  it("stops a left-behind group whose identity matches, and never touches a pid whose start time differs", async () => {
    const tag = `${instancePrefix(stateDir)}ours/1.abcd`;
    const matching = await leaveOrphanGroup(tag);
    const impostor = await leaveOrphanGroup();
    const exe = (await processExe(matching.leader))!;
    const record = (runtime: string, pid: number, start_time: string): ChildRecord => ({
      runtime,
      pid,
      pgid: pid,
      start_time,
      command: "node",
      exe,
      tag,
    });
    const realStart = (await processStartTime(matching.leader))!;
    const impostorStart = (await processStartTime(impostor.leader))!;
    const records = [
      record("ours", matching.leader, realStart),
      // Same pid as a live process but a different start time: what a reused pid looks like.
      record("reused", impostor.leader, `${impostorStart}7`),
      record("gone", 99_999_999, "12345"),
    ];

    const result = await reapOrphans(records, { grace_ms: 300, stateDir });

    expect(result.reaped.map((r) => r.runtime)).toEqual(["ours"]);
    expect(result.skipped.map((s) => s.record.runtime)).toEqual(["reused", "gone"]);
    expect(result.skipped[0]!.why).toContain(`pid ${impostor.leader} now belongs to another process`);
    expect(result.skipped[1]!.why).toBe("pid 99999999 is not running");
    // The whole matching group is gone, including the member that ignores SIGTERM.
    await waitFor(async () => !(await isProcessAlive(matching.leader)), 10_000, "orphan leader to die");
    await waitFor(async () => !(await isProcessAlive(matching.member)), 10_000, "orphan member to die");
    // The impostor group survives untouched.
    expect(await isProcessAlive(impostor.leader)).toBe(true);
    expect(await isProcessAlive(impostor.member)).toBe(true);
  });

  it("leaves a group alone when its leader is gone, saying why", async () => {
    // A holder stays up as the leader's parent so the dead leader is reaped and its pid really vanishes.
    const holderScript = `
      const { spawn } = require("node:child_process");
      const leader = spawn(process.execPath, ["-e", ${JSON.stringify(groupLeaderScript)}], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
      leader.stdout.once("data", (d) => console.log(leader.pid + " " + String(d).trim().split(" ")[1]));
      setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ["-e", holderScript], { stdio: ["ignore", "pipe", "ignore"] });
    holders.push(holder);
    const line = await new Promise<string>((resolve) =>
      holder.stdout.once("data", (d) => resolve(String(d))),
    );
    const [leader, member] = line.trim().split(" ").map(Number) as [number, number];
    leftBehind.push(leader);
    const group = { leader, member };
    const start = (await processStartTime(group.leader))!;
    process.kill(group.leader, "SIGKILL");
    await waitFor(
      async () => (await processStartTime(group.leader)) === undefined,
      10_000,
      "leader to be reaped",
    );
    const result = await reapOrphans(
      [{ runtime: "r", pid: group.leader, pgid: group.leader, start_time: start, command: "node" }],
      { grace_ms: 100, stateDir },
    );
    expect(result.reaped).toEqual([]);
    expect(result.skipped[0]!.why).toBe(
      `pid ${leader} is not running; its process group ${leader} still has members, left alone because their identity cannot be verified`,
    );
    expect(await isProcessAlive(group.member)).toBe(true);
  });
});
