/**
 * Restart budgets as a user lives them: backoff grows and resets after a stable uptime, an exhausted
 * runtime retries at `reset_at`, and the budget survives a daemon restart (SIGTERM leaves no backend).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DaemonHandle, startDaemon, stopAll, tempDir, until } from "../support/daemon-harness.js";
import { configWith, figure, pidsWithEnv, record, runtimeView, toState } from "./support.js";

let dir: string;
let h: DaemonHandle;

const config = configWith([
  {
    id: "flappy",
    extra:
      "backoff: { initial: 100ms, factor: 10, max: 5s, jitter: 0, reset_after: 600ms }\nrestart_budget: { max_restarts: 5 }",
  },
  {
    id: "loop",
    auto_start: false,
    // Crashes before it ever binds: every start fails.
    args: [
      "--stub-bind-after-load",
      "--stub-load-ms",
      "5000",
      "--stub-crash-after-ms",
      "0",
      "--stub-exit-code",
      "3",
    ],
    extra: "restart_budget: { max_restarts: 1, window_seconds: 3 }\nbackoff: { initial: 10ms, jitter: 0 }",
  },
]);

beforeAll(async () => {
  dir = await tempDir("rmx-budget-");
  h = await startDaemon({ config, dir, ready: ["flappy"] });
});
afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

async function killAndWatchBackoff(id: string): Promise<string> {
  const before = await h.waitForState(id, ["ready"]);
  const ev = await record(h, ["runtime.state.changed"]);
  process.kill(before.pid as number, "SIGKILL");
  const backoff = await toState(ev, id, ["backoff"]);
  await toState(ev, id, ["ready"]);
  await ev.close();
  return backoff.payload.reason as string;
}

describe("restart budget and backoff", () => {
  it("backoff grows between quick crashes and resets after a stable uptime", async () => {
    const first = await killAndWatchBackoff("flappy");
    expect(first, `1st crash: ${first}`).toMatch(/; restarting in 100 ms$/);
    const second = await killAndWatchBackoff("flappy");
    expect(second, `2nd crash right after ready: ${second}`).toMatch(/; restarting in 1\.0 s$/);
    // A stable uptime longer than reset_after (600 ms): wait on the runtime's own ready_at.
    const readyAt = Date.parse((await runtimeView(h, "flappy")).ready_at as string);
    await until(() => Date.now() - readyAt > 700, 5000, "700 ms of uptime");
    const third = await killAndWatchBackoff("flappy");
    expect(third, `3rd crash after a stable uptime: ${third}`).toMatch(/; restarting in 100 ms$/);
    const view = await runtimeView(h, "flappy");
    expect(view.restart_budget, JSON.stringify(view.restart_budget)).toMatchObject({ used: 3, remaining: 2 });
  });

  it("an exhausted runtime retries by itself at reset_at", async () => {
    const ev = await record(h, ["runtime.*"]);
    await (await h.client()).call("runtime.start", { id: "loop" });
    const exhausted = await toState(ev, "loop", ["exhausted"]);
    const resetAt = exhausted.payload.restart_budget.reset_at as string;
    expect(resetAt, `reset_at in ${JSON.stringify(exhausted.payload.restart_budget)}`).toBeDefined();
    expect(exhausted.payload.status.detail.join("\n"), "detail names the automatic retry").toMatch(
      /Automatic retry at \d{2}:\d{2}:\d{2}/,
    );
    const view = await runtimeView(h, "loop");
    expect(view.next_retry_at, `next_retry_at ${view.next_retry_at} = reset_at ${resetAt}`).toBe(resetAt);
    const retry = await ev.next("runtime.restart", (p) => p.id === "loop", 10_000);
    const retried = await toState(ev, "loop", ["starting"], 10_000);
    const late = Date.parse(retried.time) - Date.parse(resetAt);
    figure("reset_at → retry start", late);
    expect(retry.payload.automatic, "the retry is automatic").toBe(true);
    expect(late, `retry started ${late} ms after reset_at`).toBeGreaterThanOrEqual(0);
    expect(late, `retry started ${late} ms after reset_at`).toBeLessThan(1000);
    const again = await toState(ev, "loop", ["exhausted"], 10_000);
    expect(again.payload.restart_budget.used, "the retry used the freed slot").toBe(1);
    await ev.close();
    await (await h.client()).call("runtime.stop", { id: "loop", wait: true });
  });

  it("SIGTERM leaves no backend behind, and a restarted daemon keeps the budget", async () => {
    const needle = `RMX_STATE_DIR=${h.stateDir}`;
    const backends = pidsWithEnv(needle, [h.pid]);
    expect(backends.length, `backends running before the stop: ${backends.join(", ")}`).toBeGreaterThan(0);
    const before = await runtimeView(h, "flappy");
    const exit = await h.stop("SIGTERM");
    expect(exit, `rmxd exit ${JSON.stringify(exit)}`).toEqual({ code: 0, signal: null });
    const left = pidsWithEnv(needle);
    expect(left, `backend pids left after SIGTERM: ${left.join(", ") || "none"}`).toEqual([]);

    const persisted = JSON.parse(await fs.readFile(path.join(h.stateDir, "state.json"), "utf8"));
    expect(persisted.runtimes.flappy.budget.attempts, "attempts on disk").toHaveLength(3);
    expect(persisted.runtimes.flappy.child, "no child recorded after a clean stop").toBeUndefined();

    h = await startDaemon({ config, dir, ready: ["flappy"] });
    const after = await runtimeView(h, "flappy");
    // The budget survives, and the start on the restarted daemon is a restart of a running runtime: it counts.
    expect(after.restart_budget.used, `used after restart: ${after.restart_budget.used}`).toBe(
      before.restart_budget.used + 1,
    );
    expect(after.restart_budget.reset_at, "same reset_at").toBe(before.restart_budget.reset_at);
    const loop = await runtimeView(h, "loop");
    expect(loop.state, `loop was stopped by request: ${loop.state}`).toBe("stopped");
  });

  it("`runtime.restore --reset-budget` clears the budget and the reset is recorded", async () => {
    const c = await h.client();
    const result = await c.call("runtime.restore", { id: "flappy", restart: false, reset_budget: true });
    expect(result, JSON.stringify(result)).toMatchObject({
      accepted: true,
      restarted: false,
      budget_reset: true,
    });
    expect(result.restart_budget, JSON.stringify(result.restart_budget)).toMatchObject({
      used: 0,
      remaining: 5,
    });
    const file = path.join(h.stateDir, "state.json");
    const resets = await until(
      async () => {
        const r = JSON.parse(await fs.readFile(file, "utf8")).runtimes.flappy.budget.resets as number[];
        return r.length > 0 ? r : undefined;
      },
      5000,
      "the reset in state.json",
    );
    expect(resets.length, `resets recorded: ${JSON.stringify(resets)}`).toBe(1);
    await until(
      () => h.stderr().includes("restart budget reset by request"),
      5000,
      "the reset in the daemon log",
    );
  });
});
