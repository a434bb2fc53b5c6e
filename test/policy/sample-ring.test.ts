/**
 * The request record's core against naive models, with an injected clock: the ring keeps exactly the
 * latest `size` samples (memory bound), windows and percentiles match a sorted copy, and RequestStats'
 * counts, error classes, error rates and windowed per-cell totals match a plain list of every request.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { RequestStats } from "../../daemon/policy/request-stats.js";
import { p50p95, percentileOf, SampleRing } from "../../daemon/policy/sample-ring.js";
import type { ErrorClass } from "../../ipc/protocol/gateway.js";

const sample = fc.record({
  gap: fc.integer({ min: 0, max: 5_000 }),
  ms: fc.integer({ min: 0, max: 6_000_000 }).map((x) => x / 100),
  ok: fc.boolean(),
  ttft: fc.option(
    fc.integer({ min: 0, max: 6_000_000 }).map((x) => x / 100),
    { nil: undefined },
  ),
});

function naiveRank(xs: readonly number[], p: number): number | undefined {
  if (xs.length === 0) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

describe("SampleRing", () => {
  it("property: holds the latest `size` samples; a window of it matches the naive list", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(sample, { maxLength: 150 }),
        fc.integer({ min: 0, max: 200_000 }),
        (size, samples, windowMs) => {
          const ring = new SampleRing(size);
          const all: { at: number; ms: number; ok: boolean; ttft: number | undefined }[] = [];
          let at = 0;
          for (const s of samples) {
            at += s.gap;
            ring.push(at, s.ms, s.ok, s.ttft);
            all.push({ at, ms: s.ms, ok: s.ok, ttft: s.ttft });
            expect(ring.length).toBeLessThanOrEqual(size);
          }
          expect(ring.length).toBe(Math.min(size, all.length));
          const since = at - windowMs;
          const kept = all.slice(-size).filter((x) => x.at > since);
          const ms: number[] = [];
          const c = ring.collect(ms, "ms", since, false);
          expect(c).toEqual({ seen: kept.length, failed: kept.filter((x) => !x.ok).length });
          expect([...ms].sort((a, b) => a - b)).toEqual(kept.map((x) => x.ms).sort((a, b) => a - b));
          const okTtft: number[] = [];
          ring.collect(okTtft, "ttft", since, true);
          const want = kept.filter((x) => x.ok && x.ttft !== undefined).map((x) => x.ttft as number);
          expect(okTtft.sort((a, b) => a - b)).toEqual(want.sort((a, b) => a - b));
        },
      ),
    );
  });

  it("property: percentiles are the naive nearest rank", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.integer({ min: 0, max: 100_000_000 }).map((x) => x / 100),
          { maxLength: 300 },
        ),
        (xs) => {
          for (const p of [1, 50, 95, 99, 100]) expect(percentileOf(xs, p)).toBe(naiveRank(xs, p));
          const both = p50p95(xs);
          const r = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 100) / 100);
          expect(both.p50).toBe(r(naiveRank(xs, 50)));
          expect(both.p95).toBe(r(naiveRank(xs, 95)));
        },
      ),
    );
  });
});

const CLASSES: ErrorClass[] = ["client", "upstream", "timeout", "aborted"];

describe("RequestStats over the ring", () => {
  it("property: counts, error classes and rates match a naive list; memory stays bounded", () => {
    const request = fc.record({
      gap: fc.integer({ min: 0, max: 20_000 }),
      cell: fc.constantFrom("a@cpu/none", "b@cpu/none", "c@gpu:0/none"),
      route: fc.constantFrom("/v1/chat/completions", "/v1/completions"),
      ms: fc.integer({ min: 0, max: 5_000 }),
      error: fc.option(fc.constantFrom(...CLASSES), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(request, { maxLength: 200 }),
        fc.integer({ min: 1, max: 30 }),
        (requests, maxSamples) => {
          const clock = new ManualClock();
          const windowMs = 60_000;
          const stats = new RequestStats(clock, windowMs, { maxSamples, maxSeries: 64 });
          const log: {
            at: number;
            cell: string;
            route: string;
            ms: number;
            error: ErrorClass | undefined;
          }[] = [];
          for (const r of requests) {
            clock.advance(r.gap);
            const model = r.cell.slice(0, r.cell.indexOf("@"));
            stats.observe({
              model,
              cell: r.cell,
              route: r.route,
              ms: r.ms,
              ...(r.error === undefined ? { ttftMs: r.ms / 2 } : { error: r.error }),
            });
            log.push({ at: clock.now(), cell: r.cell, route: r.route, ms: r.ms, error: r.error });
          }
          const cutoff = clock.now() - windowMs;
          // A series with no request in the window is dropped at the next read; its counts go with it.
          const live = new Set(log.filter((x) => x.at > cutoff).map((x) => `${x.cell} ${x.route}`));
          const views = stats.view();
          expect(stats.seriesCount).toBe(live.size);
          for (const v of views) {
            const mine = log.filter((x) => x.cell === v.cell && x.route === v.route);
            const errors = mine.filter((x) => x.error !== undefined);
            expect(live.has(`${v.cell} ${v.route}`)).toBe(true);
            expect(v.total).toBe(mine.length);
            expect(v.errors).toBe(errors.length);
            expect(v.error_rate).toBeCloseTo(errors.length / mine.length, 3);
            if (errors.length > 0) {
              const byClass: Partial<Record<ErrorClass, number>> = {};
              for (const e of errors)
                byClass[e.error as ErrorClass] = (byClass[e.error as ErrorClass] ?? 0) + 1;
              expect(v.errors_by_class).toEqual(byClass);
            } else expect(v.errors_by_class).toBeUndefined();
          }
          expect(views.length).toBe(live.size);
          for (const cell of ["a@cpu/none", "b@cpu/none", "c@gpu:0/none"]) {
            // Windowed: per series at most the latest maxSamples, then those inside the window.
            let total = 0;
            let failed = 0;
            for (const route of ["/v1/chat/completions", "/v1/completions"]) {
              const inWindow = log
                .filter((x) => x.cell === cell && x.route === route)
                .slice(-maxSamples)
                .filter((x) => x.at > cutoff);
              total += inWindow.length;
              failed += inWindow.filter((x) => x.error !== undefined).length;
            }
            const got = stats.forCell(cell);
            expect(got.total).toBe(total);
            expect(got.errors).toBe(failed);
          }
        },
      ),
    );
  });

  it("marks a series slow, with a reason, when its p95 reaches the threshold", () => {
    const clock = new ManualClock();
    const stats = new RequestStats(clock, 300_000, { maxSamples: 100, maxSeries: 8, slowMs: 1000 });
    for (let i = 0; i < 20; i++)
      stats.observe({ model: "m", cell: "m@cpu/none", route: "/v1/chat/completions", ms: 2400, ttftMs: 30 });
    stats.observe({ model: "f", cell: "f@cpu/none", route: "/v1/chat/completions", ms: 40, ttftMs: 40 });
    const [fast, slow] = stats.view();
    expect(fast).toMatchObject({ model: "f", p95_ms: 40 });
    expect(fast?.slow).toBeUndefined();
    expect(slow).toMatchObject({ model: "m", slow: true, p95_ms: 2400, ttft_p50_ms: 30 });
    expect(slow?.slow_reason).toBe("p95 2400 ms is at or over the 1000 ms slow-route threshold (last 5 min)");
    expect(stats.cellTelemetry("m@cpu/none")).toMatchObject({ total: 20, slow: true });
    expect(stats.cellTelemetry("nothing@cpu/none")).toBeUndefined();
  });

  it("a cell's telemetry counts at once, while its percentiles are reused for a second", () => {
    const clock = new ManualClock();
    const stats = new RequestStats(clock);
    const cell = "m@cpu/none";
    stats.observe({ model: "m", cell, route: "/v1/completions", ms: 10, ttftMs: 10 });
    expect(stats.cellTelemetry(cell)).toMatchObject({ total: 1, p95_ms: 10 });
    stats.observe({ model: "m", cell, route: "/v1/completions", ms: 500, ttftMs: 500 });
    expect(stats.cellTelemetry(cell)).toMatchObject({ total: 2, p95_ms: 10 });
    clock.advance(1000);
    expect(stats.cellTelemetry(cell)).toMatchObject({ total: 2, p95_ms: 500 });
  });
});
