import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { percentile } from "../../daemon/health/window.js";
import { RequestStats } from "../../daemon/policy/request-stats.js";

const CELL = "llama-8b@gpu:0";
const CHAT = "/v1/chat/completions";

describe("RequestStats", () => {
  it("summarises a cell over its routes", () => {
    const stats = new RequestStats(new ManualClock());
    for (let ms = 10; ms <= 200; ms += 10) stats.record(CELL, CHAT, ms, ms !== 50);
    stats.record(CELL, "/v1/completions", 1000, false);
    stats.record("other@cpu", CHAT, 5, true);
    expect(stats.forCell(CELL)).toEqual({
      total: 21,
      errors: 2,
      error_rate: 2 / 21,
      p50_ms: 110,
      p95_ms: 200,
    });
    expect(stats.forCell("unknown")).toEqual({ total: 0, errors: 0, error_rate: 0 });
  });

  it("ages samples out of the window", () => {
    const clock = new ManualClock();
    const stats = new RequestStats(clock, 60_000);
    stats.record(CELL, CHAT, 3000, false);
    clock.advance(30_000);
    stats.record(CELL, CHAT, 100, true);
    expect(stats.forCell(CELL)).toMatchObject({ total: 2, errors: 1 });
    clock.advance(30_000);
    expect(stats.forCell(CELL)).toEqual({ total: 1, errors: 0, error_rate: 0, p50_ms: 100, p95_ms: 100 });
    expect(stats.slowRoutes()).toEqual([]);
    clock.advance(30_000);
    expect(stats.forCell(CELL).total).toBe(0);
    expect(stats.seriesCount).toBe(0);
  });

  it("lists slow routes slowest first, formatted, at most max", () => {
    const stats = new RequestStats(new ManualClock());
    stats.record(CELL, CHAT, 2400, true);
    stats.record("qwen@cpu", CHAT, 1600.4, true);
    stats.record(CELL, "/health", 3, true);
    stats.record("big@gpu:1", "/v1/completions", 9000, true);
    expect(stats.slowRoutes()).toEqual([
      "/v1/completions on big@gpu:1 (9000 ms)",
      "/v1/chat/completions on llama-8b@gpu:0 (2400 ms)",
      "/v1/chat/completions on qwen@cpu (1600 ms)",
    ]);
    expect(stats.slowRoutes(2000, 1)).toEqual(["/v1/completions on big@gpu:1 (9000 ms)"]);
  });

  it("keeps memory bounded per series and in the number of series", () => {
    const stats = new RequestStats(new ManualClock(), 300_000, { maxSamples: 50, maxSeries: 4 });
    for (let i = 0; i < 500; i++) stats.record(CELL, CHAT, i, true);
    expect(stats.forCell(CELL)).toMatchObject({ total: 50, p50_ms: 474 });
    for (let i = 0; i < 20; i++) stats.record(CELL, `/route/${i}`, 1, true);
    expect(stats.seriesCount).toBe(4);
  });

  it("property: nearest-rank percentiles are members bounded by min and max; p50 ≤ p95", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 200 }), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const p50 = percentile(sorted, 50)!;
        const p95 = percentile(sorted, 95)!;
        expect(xs).toContain(p50);
        expect(p50).toBeLessThanOrEqual(p95);
        expect(p95).toBeLessThanOrEqual(sorted.at(-1)!);
        expect(sorted.filter((x) => x <= p95).length / sorted.length).toBeGreaterThanOrEqual(0.95);
      }),
    );
  });
});
