import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ratesBetween, ThroughputTracker } from "../../daemon/matrix/throughput.js";

describe("ratesBetween", () => {
  it("is the counter delta over the wall-time delta", () => {
    const rates = ratesBetween(
      { at: 10_000, pid: 7, tokens_predicted_total: 1000, prompt_tokens_total: 50 },
      { at: 12_000, pid: 7, tokens_predicted_total: 1400, prompt_tokens_total: 250 },
    );
    expect(rates).toEqual({
      generated_tokens_per_second: 200,
      prompt_tokens_per_second: 100,
      window_seconds: 2,
    });
  });

  it("reads zero, not the lifetime average, when nothing happened between scrapes", () => {
    const rates = ratesBetween(
      { at: 0, pid: 1, tokens_predicted_total: 9_999, prompt_tokens_total: 500 },
      { at: 5_000, pid: 1, tokens_predicted_total: 9_999, prompt_tokens_total: 500 },
    );
    expect(rates).toEqual({ generated_tokens_per_second: 0, prompt_tokens_per_second: 0, window_seconds: 5 });
  });

  it("gives no rate when a counter went down (backend restarted)", () => {
    expect(
      ratesBetween(
        { at: 0, pid: 1, tokens_predicted_total: 500 },
        { at: 1000, pid: 1, tokens_predicted_total: 20 },
      ),
    ).toBeUndefined();
    // Only the counter that went down loses its rate.
    expect(
      ratesBetween(
        { at: 0, tokens_predicted_total: 500, prompt_tokens_total: 10 },
        { at: 1000, tokens_predicted_total: 20, prompt_tokens_total: 30 },
      ),
    ).toEqual({ prompt_tokens_per_second: 20, window_seconds: 1 });
  });

  it("gives no rate across different processes, or when time did not move forward", () => {
    expect(
      ratesBetween(
        { at: 0, pid: 1, tokens_predicted_total: 0 },
        { at: 1000, pid: 2, tokens_predicted_total: 900 },
      ),
    ).toBeUndefined();
    expect(
      ratesBetween({ at: 1000, tokens_predicted_total: 0 }, { at: 1000, tokens_predicted_total: 5 }),
    ).toBeUndefined();
    expect(
      ratesBetween({ at: 2000, tokens_predicted_total: 0 }, { at: 1000, tokens_predicted_total: 5 }),
    ).toBeUndefined();
  });

  it("gives no rate when the backend does not report the counters", () => {
    expect(ratesBetween({ at: 0 }, { at: 1000 })).toBeUndefined();
    expect(ratesBetween({ at: 0, tokens_predicted_total: 5 }, { at: 1000 })).toBeUndefined();
  });

  it("property: for monotonic counters, rate × window recovers the delta (to rounding)", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1e9 }),
        fc.nat({ max: 1e6 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.nat({ max: 1e12 }),
        (base, delta, dtMs, at) => {
          const r = ratesBetween(
            { at, tokens_predicted_total: base },
            { at: at + dtMs, tokens_predicted_total: base + delta },
          );
          expect(r?.generated_tokens_per_second).toBeGreaterThanOrEqual(0);
          const recovered = (r?.generated_tokens_per_second ?? 0) * (dtMs / 1000);
          expect(Math.abs(recovered - delta)).toBeLessThanOrEqual(0.05 * (dtMs / 1000) + 1e-6);
        },
      ),
    );
  });

  it("property: a decreasing counter never yields a rate for it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: 1, max: 1e9 }), (high, drop) => {
        const low = Math.max(0, high - drop);
        fc.pre(low < high);
        const r = ratesBetween(
          { at: 0, tokens_predicted_total: high },
          { at: 1000, tokens_predicted_total: low },
        );
        expect(r?.generated_tokens_per_second).toBeUndefined();
      }),
    );
  });
});

describe("ThroughputTracker", () => {
  it("needs two readings, restarts its baseline on a new pid, and forgets runtimes", () => {
    const t = new ThroughputTracker();
    expect(t.observe("a", { at: 0, pid: 1, tokens_predicted_total: 0 })).toBeUndefined();
    expect(
      t.observe("a", { at: 1000, pid: 1, tokens_predicted_total: 300 })?.generated_tokens_per_second,
    ).toBe(300);
    // Restarted process: new counters start near zero; no rate for the pair, then rates again.
    expect(t.observe("a", { at: 2000, pid: 2, tokens_predicted_total: 10 })).toBeUndefined();
    expect(
      t.observe("a", { at: 3000, pid: 2, tokens_predicted_total: 60 })?.generated_tokens_per_second,
    ).toBe(50);
    t.observe("b", { at: 3000, tokens_predicted_total: 1 });
    expect(t.size).toBe(2);
    t.retain(new Set(["a"]));
    expect(t.size).toBe(1);
    t.forget("a");
    expect(t.observe("a", { at: 4000, pid: 2, tokens_predicted_total: 80 })).toBeUndefined();
  });
});
