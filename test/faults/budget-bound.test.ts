/**
 * The restart budget as a bound on real spawns. A backend that crashes at once writes its pid and the time
 * of its start to a file, so the spawns are counted from the processes themselves, not from rmxd's own
 * account: no sliding window of `window_seconds` may hold more than `max_restarts` + 1 of them (the one
 * start that is not a restart), through a crash loop over several windows and through rmxd being SIGKILLed
 * and started again, round after round, under a crashing backend.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stopAll, until } from "../support/daemon-harness.js";
import { configText, faultDir, removeDaemonDirs, report, startFaultDaemon } from "./fault-support.js";

const MAX_RESTARTS = 3;

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

/** Writes "pid time" on start, then dies with exit 1 after 30 ms, printing nothing (no configuration error). */
const CRASHER = `
require("node:fs").appendFileSync(process.argv[2], process.pid + " " + Date.now() + "\\n");
setTimeout(() => process.exit(1), 30);`;

async function crasher(dir: string): Promise<{ script: string; spawns: string }> {
  const script = path.join(dir, "crasher.cjs");
  await fs.writeFile(script, CRASHER);
  return { script, spawns: path.join(dir, "spawns.txt") };
}

function runtime(script: string, spawns: string, windowSeconds: number) {
  return {
    id: "crashy",
    adapter: "command",
    binary: process.execPath,
    args: [script, spawns],
    hardware: "cpu",
    sandbox: "none",
    auto_start: true,
    restart_budget: { max_restarts: MAX_RESTARTS, window_seconds: windowSeconds, retry_at_reset: true },
    backoff: { initial: 50, max: 50, factor: 1, jitter: 0 },
    health: { start_poll_initial: 10, start_poll_max: 50 },
    stop: { grace: 2000 },
  };
}

async function spawnTimes(file: string): Promise<{ pid: number; at: number }[]> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [pid, at] = l.split(" ").map(Number);
      return { pid: pid as number, at: at as number };
    });
}

/** The most spawns any window of `windowMs` holds (windows start at each spawn: that is where maxima are). */
function worstWindow(times: readonly number[], windowMs: number): number {
  let worst = 0;
  for (const start of times) {
    worst = Math.max(worst, times.filter((t) => t >= start && t < start + windowMs).length);
  }
  return worst;
}

describe("the restart budget bounds real spawns", () => {
  it(`a crash loop: no ${MAX_RESTARTS}-restart window holds more than ${MAX_RESTARTS} + 1 spawns, over 3 windows`, async () => {
    const windowSeconds = 2;
    const dir = await faultDir();
    const { script, spawns } = await crasher(dir);
    await startFaultDaemon({
      dir,
      config: configText({ runtimes: [runtime(script, spawns, windowSeconds)] }),
    });
    const windowMs = windowSeconds * 1000;
    // Until a spawn comes at least three windows after the first one.
    await until(
      async () => {
        const s = await spawnTimes(spawns);
        return s.length > 0 && (s.at(-1)?.at ?? 0) - (s[0]?.at ?? 0) >= 3 * windowMs;
      },
      60_000,
      "spawns spanning three windows",
    );
    const times = (await spawnTimes(spawns)).map((s) => s.at);
    const worst = worstWindow(times, windowMs);
    const span = (times.at(-1) ?? 0) - (times[0] ?? 0);
    const figures = `spawns ${times.length} over ${span} ms, at +${times.map((t) => t - (times[0] ?? 0)).join(", +")} ms; worst ${windowSeconds} s window: ${worst}`;
    expect(worst, figures).toBeLessThanOrEqual(MAX_RESTARTS + 1);
    // And the loop did not stop: the budget paced it (retries at each reset), it did not end it.
    expect(times.length, figures).toBeGreaterThan(MAX_RESTARTS + 1);
    report("budget crash loop", { window_s: windowSeconds, spawns: times.length, span_ms: span, worst });
  }, 90_000);

  it(`rmxd SIGKILLed and started again 6 times under a crashing backend: never more than ${MAX_RESTARTS} + 1 spawns in the window`, async () => {
    const rounds = 6;
    const windowSeconds = 600; // every round falls in one window: the bound is on the total
    const dir = await faultDir();
    const { script, spawns } = await crasher(dir);
    const config = configText({ runtimes: [runtime(script, spawns, windowSeconds)] });
    const perRound: number[] = [];
    const states: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const before = (await spawnTimes(spawns)).length;
      const h = await startFaultDaemon({ dir, config });
      // A crash seen (backoff) or the budget judged empty (exhausted): then the daemon dies without warning.
      const rt = await h.waitForState("crashy", ["backoff", "exhausted"], 30_000);
      states.push(rt.state);
      await h.stop("SIGKILL");
      perRound.push((await spawnTimes(spawns)).length - before);
    }
    const times = (await spawnTimes(spawns)).map((s) => s.at);
    const worst = worstWindow(times, windowSeconds * 1000);
    const figures = `spawns per round [${perRound.join(", ")}], states [${states.join(", ")}], total ${times.length}, worst window ${worst}`;
    expect(worst, figures).toBeLessThanOrEqual(MAX_RESTARTS + 1);
    expect(states.at(-1), figures).toBe("exhausted");
    report("budget across rmxd SIGKILLs", { rounds, spawns_per_round: perRound, total: times.length, worst });
  }, 180_000);
});
