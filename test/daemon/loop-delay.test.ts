/**
 * telemetry/loop-delay.ts: one timer measures the event-loop delay for every reader; each window keeps
 * its own span; percentiles are within a bucket (5 %) of the exact ones.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LoopDelayMonitor, LoopDelayWindow } from "../../daemon/telemetry/loop-delay.js";

/** Resolves once `window` has recorded `n` timer firings (the monitor's own timer is the event). */
function recorded(window: LoopDelayWindow, n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (window.count >= n ? resolve() : setImmediate(check));
    check();
  });
}

describe("LoopDelayWindow", () => {
  it("percentiles within 5 % of the exact rank's value, never above the max", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(50, 90, 99, 100),
        (delays, p) => {
          const w = new LoopDelayWindow();
          for (const d of delays) w.record(d);
          const sorted = [...delays].sort((a, b) => a - b);
          const exact = sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
          const got = w.percentile(p);
          expect(got).toBeLessThanOrEqual(Math.max(...delays));
          expect(got).toBeGreaterThanOrEqual(exact);
          expect(got).toBeLessThanOrEqual(Math.max(exact * 1.05, 0.01) + 1e-9);
        },
      ),
    );
  });
});

describe("LoopDelayMonitor", () => {
  it("a blocked loop shows in every open window; a reset window starts over; closing the last stops the timer", async () => {
    const monitor = new LoopDelayMonitor(10);
    const sinceStart = monitor.open();
    const perTick = monitor.open();
    await recorded(sinceStart, 1);
    const until = performance.now() + 120;
    while (performance.now() < until) {
      // the loop is blocked for 120 ms
    }
    await recorded(sinceStart, 2);
    expect(sinceStart.summary().max_ms).toBeGreaterThanOrEqual(100);
    expect(perTick.summary().max_ms).toBeGreaterThanOrEqual(100);
    perTick.reset();
    expect(perTick.summary(), "reset: the stall is gone from this window").toEqual({
      p50_ms: 0,
      p99_ms: 0,
      max_ms: 0,
    });
    await recorded(perTick, 1);
    expect(sinceStart.summary().max_ms, "the other window keeps it").toBeGreaterThanOrEqual(100);
    monitor.close(sinceStart);
    monitor.close(perTick);
    const frozen = perTick.count;
    await new Promise((resolve) => setImmediate(resolve));
    expect((monitor as unknown as { timer: unknown }).timer, "no timer with no window").toBeUndefined();
    expect(perTick.count).toBe(frozen);
  });
});
