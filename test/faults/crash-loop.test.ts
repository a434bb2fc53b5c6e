/**
 * A backend that crashes right after start: the budget allows exactly `max_restarts` automatic restarts
 * in the window, then the runtime is `exhausted`, and exactly one retry happens when the oldest restart
 * leaves the window (`reset_at`).
 */
import { afterEach, describe, expect, it } from "vitest";
import { stopAll } from "../support/daemon-harness.js";
import {
  configText,
  record,
  removeDaemonDirs,
  report,
  type StateChange,
  startFaultDaemon,
  stubRuntime,
  toState,
} from "./fault-support.js";

const MAX_RESTARTS = 3;
const WINDOW_SECONDS = 8;
/**
 * Restarts 1 s apart: the window still holds the second-oldest restart when the process retried at
 * reset_at crashes, so that retry is exactly one; and 3 × (1 s + a start) stays well inside the window.
 */
const BACKOFF_MS = 1000;

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

describe("crash loop", () => {
  it(`makes exactly ${MAX_RESTARTS} restarts within its ${WINDOW_SECONDS} s window, is exhausted, then retries once at reset_at`, async () => {
    const h = await startFaultDaemon({
      config: configText({
        runtimes: [
          stubRuntime("crashy", ["--stub-crash-after-ms", "30", "--stub-exit-code", "3"], {
            restart_budget: {
              max_restarts: MAX_RESTARTS,
              window_seconds: WINDOW_SECONDS,
              retry_at_reset: true,
            },
            backoff: { initial: BACKOFF_MS, factor: 1, jitter: 0 },
          }),
        ],
      }),
    });
    const rec = await record(h, ["runtime.state.changed", "runtime.restart"]);
    const c = await h.client();
    await c.call("runtime.start", { id: "crashy" });

    const exhausted = await toState(rec, "crashy", ["exhausted"], 20_000);
    const restartsBefore = rec.all("runtime.restart", "crashy");
    const firstBudget = (exhausted.payload as StateChange).restart_budget;
    expect(
      restartsBefore.length,
      `restarts counted before exhausted: ${restartsBefore.length} (max_restarts ${MAX_RESTARTS})`,
    ).toBe(MAX_RESTARTS);
    expect(restartsBefore.every((e) => (e.payload as { automatic: boolean }).automatic)).toBe(true);
    expect(firstBudget, `budget when exhausted: ${JSON.stringify(firstBudget)}`).toMatchObject({
      used: MAX_RESTARTS,
      remaining: 0,
    });
    const resetAt = Date.parse(firstBudget.reset_at ?? "");
    const firstRestartAt = Date.parse(restartsBefore[0]?.time ?? "");
    // The restart event's time is its step's instant, the one the budget counted (not when it was
    // published, after the fork): reset_at is exactly that plus the window.
    expect(
      resetAt - firstRestartAt,
      `reset_at ${firstBudget.reset_at} is the first restart (${restartsBefore[0]?.time}) + the window`,
    ).toBe(WINDOW_SECONDS * 1000);

    const status = await c.call("runtime.status");
    const view = status.runtimes.find((r) => r.id === "crashy");
    expect(view?.state).toBe("exhausted");
    expect(view?.next_retry_at, "the status promises the retry at reset_at").toBe(firstBudget.reset_at);

    // The retry at reset_at: the runtime leaves `exhausted` once, straight to `starting`, with one restart.
    const leave = await rec.next(
      "runtime.state.changed",
      (p: StateChange) => p.id === "crashy" && p.from === "exhausted",
      WINDOW_SECONDS * 1000 + 10_000,
    );
    const retries = rec
      .all("runtime.restart", "crashy")
      .filter((e) => e.seq > exhausted.seq && e.seq < leave.seq);
    const retryAt = Date.parse(retries[0]?.time ?? "");
    const lateness = retryAt - resetAt;
    const retryFigures = `${retries.length} restart(s) on leaving exhausted, at ${retries[0]?.time}; reset_at ${firstBudget.reset_at}: ${lateness} ms after it`;
    expect((leave.payload as StateChange).to, retryFigures).toBe("starting");
    expect(retries.length, retryFigures).toBe(1);
    expect((retries[0]?.payload as { automatic?: boolean } | undefined)?.automatic).toBe(true);
    expect(lateness, `not before reset_at: ${retryFigures}`).toBeGreaterThanOrEqual(0);
    expect(lateness, `at reset_at (within a generous 2 s): ${retryFigures}`).toBeLessThan(2000);

    // The retried process crashes too. Its failure is judged by the sliding window like any other: while the
    // second-oldest restart is still inside the window the budget is full, so it is exhausted again at once.
    const crash = await rec.next(
      "runtime.state.changed",
      (p: StateChange) => p.id === "crashy" && (p.to === "exhausted" || p.to === "backoff"),
      20_000,
    );
    const again =
      (crash.payload as StateChange).to === "exhausted"
        ? crash
        : await toState(rec, "crashy", ["exhausted"], 20_000);
    const all = rec.all("runtime.restart", "crashy");
    const between = all.filter((e) => e.seq > exhausted.seq && e.seq < again.seq);
    const secondOldestLeavesAt = Date.parse(restartsBefore[1]?.time ?? "") + WINDOW_SECONDS * 1000;
    const crashAt = Date.parse(crash.time);
    const figures = `retried process ended at ${crash.time} → ${(crash.payload as StateChange).to}; second-oldest restart leaves the window at ${new Date(secondOldestLeavesAt).toISOString()}; restarts between the two exhaustions: ${between.length}`;
    const budgetStillFull = crashAt < secondOldestLeavesAt - 5;
    if (budgetStillFull) {
      expect((crash.payload as StateChange).to, figures).toBe("exhausted");
      expect(between.length, figures).toBe(1);
    }
    // Under heavy load the restarts may be spread out; whatever happened, no window ever held more than the budget.
    for (const e of all) {
      const at = Date.parse(e.time);
      const inWindow = all.filter((o) => {
        const t = Date.parse(o.time);
        return t <= at && t > at - WINDOW_SECONDS * 1000 + 5;
      }).length;
      expect(
        inWindow,
        `restarts in the ${WINDOW_SECONDS} s up to ${e.time}: ${inWindow}; ${figures}`,
      ).toBeLessThanOrEqual(MAX_RESTARTS);
    }

    report("crash loop", {
      restarts_before_exhausted: restartsBefore.length,
      reset_at: firstBudget.reset_at,
      retry_ms_after_reset_at: lateness,
      restarts_between_exhaustions: between.length,
      exactly_one_checked: budgetStillFull,
    });
    await c.call("runtime.stop", { id: "crashy", wait: true });
    await rec.close();
  }, 40_000);
});
