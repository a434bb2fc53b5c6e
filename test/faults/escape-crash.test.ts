/**
 * rmxd SIGKILLed in the moment after a spawn, when the child record may not be on disk yet: the next
 * daemon on the same state dir still finds and stops everything of the old generation (by its tag),
 * and a forged state.json never makes it stop a process that is not its own.
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { processExe, processStartTime } from "../../daemon/process/proc-stat.js";
import { instancePrefix } from "../../daemon/process/tag.js";
import { pidAlive, stopAll, until } from "../support/daemon-harness.js";
import { escapeRuntime, killMarked, markedAlive, reportedPids, writeBackend } from "./escape-support.js";
import {
  configText,
  faultDir,
  killQuietly,
  removeDaemonDirs,
  report,
  startFaultDaemon,
} from "./fault-support.js";

const ROUNDS = 10;
const marks: string[] = [];
const strays = new Set<number>();

afterEach(async () => {
  for (const mark of marks.splice(0)) await killMarked(mark);
  killQuietly(strays);
  strays.clear();
  await stopAll();
  await removeDaemonDirs();
});

describe.runIf(process.platform === "linux")("rmxd SIGKILLed right after a spawn", () => {
  it(`leaves nothing of the old generation alive after the next start (${ROUNDS} rounds)`, async () => {
    const dir = await faultDir();
    const script = await writeBackend(dir);
    const leaked: number[] = [];
    let previous: string | undefined;
    for (let round = 0; round <= ROUNDS; round++) {
      const mark = `crash-${process.pid}-${Date.now()}-${round}`;
      marks.push(mark);
      const pidsFile = path.join(dir, `pids-${round}.txt`);
      const runtime = escapeRuntime(
        "spread",
        { script, mode: "stay", count: 5, pidsFile, mark },
        // Every daemon restart resumes the runtime, which is a counted restart: the budget must cover the
        // rounds (this test is about escape, not budgets; budget-bound.test.ts covers the budget bound).
        { auto_start: true, restart_budget: { max_restarts: ROUNDS + 1, window_seconds: 600 } },
      );
      // auto_start, and state.json says "running" from the round before: the spawn comes at once.
      const h = await startFaultDaemon({ dir, config: configText({ runtimes: [runtime] }) });
      if (previous !== undefined) {
        await until(async () => (await reportedPids(pidsFile)).pids.length > 0, 20_000, "the new backend");
        leaked.push((await markedAlive(previous)).length);
      }
      if (round === ROUNDS) break;
      // The moment after the spawn: the leader has exec'd (its environment is readable), nothing more.
      await until(async () => (await markedAlive(mark)).length > 0, 20_000, "the backend process");
      await h.stop("SIGKILL");
      previous = mark;
    }
    const figures = `processes of the old generation alive after each next start: [${leaked.join(",")}]`;
    expect(leaked.length, figures).toBe(ROUNDS);
    expect(
      leaked.every((n) => n === 0),
      figures,
    ).toBe(true);
    report("rmxd SIGKILL after spawn", { rounds: ROUNDS, leaked_per_round: leaked });
  }, 180_000);

  it("a forged state.json naming an unrelated process (plausible start time) leaves it running", async () => {
    const dir = await faultDir();
    const stateDir = path.join(dir, "state");
    await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
    const victim = spawn("sleep", ["1000"], { detached: true, stdio: "ignore" });
    const pid = victim.pid as number;
    strays.add(pid);
    await until(async () => (await processExe(pid))?.endsWith("sleep"), 5000, "the victim to exec sleep");
    const startTime = (await processStartTime(pid)) as string;
    const forged = {
      version: 1,
      runtimes: {
        solo: {
          budget: { attempts: [], resets: [] },
          desired: "stopped",
          // Everything the file can say, said right: only the live process can refuse it.
          child: {
            runtime: "solo",
            pid,
            pgid: pid,
            start_time: startTime,
            command: "sleep",
            exe: await processExe(pid),
            tag: `${instancePrefix(stateDir)}solo/1.deadbeef`,
          },
        },
      },
      leases: [],
      pins: [],
    };
    await fs.writeFile(path.join(stateDir, "state.json"), JSON.stringify(forged));
    const h = await startFaultDaemon({
      dir,
      config: configText({
        runtimes: [{ id: "solo", adapter: "llama-stub", hardware: "cpu", sandbox: "none" }],
      }),
    });
    await h.status();
    const skipped = h
      .stderr()
      .split("\n")
      .filter((l) => l.includes("previous child not stopped") && l.includes(String(pid)));
    const figures = `victim ${pid} (start ${startTime}) alive: ${pidAlive(pid)}; log: ${skipped.join(" | ")}`;
    expect(pidAlive(pid), figures).toBe(true);
    expect(skipped.length, figures).toBe(1);
    expect(skipped[0], figures).toContain("does not carry the recorded tag");
    report("forged state.json", { victim_alive: pidAlive(pid) });
  }, 30_000);
});
