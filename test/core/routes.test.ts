import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { RouteStats } from "../../daemon/health/routes.js";
import { EwmaFold } from "../../daemon/health/window.js";
import { T0 } from "./fixtures.js";

const CHAT = "/v1/chat/completions on llama-8b@gpu:0";

describe("RouteStats", () => {
  it("is empty before any request", () => {
    const stats = new RouteStats(new ManualClock(T0));
    expect(stats.snapshot(60_000)).toEqual({ routes: 0, hits: 0, errors: 0 });
  });

  it("counts hits and errors per window and lists slow routes slowest first", () => {
    const clock = new ManualClock(T0);
    const stats = new RouteStats(clock);
    stats.record(CHAT, 2400, true);
    stats.record("/health", 2, true);
    stats.record("/health", 2, true);
    stats.record("/v1/embeddings on nomic@cpu", 1600, false);
    stats.record("/v1/completions on qwen@cpu", 1500, true);
    const snapshot = stats.snapshot(60_000);
    expect(snapshot).toEqual({
      routes: 4,
      hits: 5,
      errors: 1,
      error_rate: 0.2,
      avg_ewma_ms: Math.round(((2400 + 2 + 1600 + 1500) / 4) * 10) / 10,
      // 1500 ms is not over the threshold.
      slow_routes: [`${CHAT} (2400 ms)`, "/v1/embeddings on nomic@cpu (1600 ms)"],
    });
  });

  it("lets errors age out of the window (no latching)", () => {
    const clock = new ManualClock(T0);
    const stats = new RouteStats(clock, { bucketMs: 1 });
    stats.record("/health", 3, false);
    clock.advance(1);
    stats.record("/health", 3, true);
    expect(stats.snapshot(10_000)).toMatchObject({ hits: 2, errors: 1, error_rate: 0.5 });
    clock.set(T0 + 10_000);
    expect(stats.snapshot(10_000)).toMatchObject({ hits: 1, errors: 0, error_rate: 0 });
    clock.set(T0 + 1 + 10_000);
    expect(stats.snapshot(10_000)).toEqual({ routes: 0, hits: 0, errors: 0 });
  });

  it("answers a shorter window from the same counters", () => {
    const clock = new ManualClock(T0);
    const stats = new RouteStats(clock);
    stats.record("/a", 10, false);
    clock.advance(30_000);
    stats.record("/a", 10, true);
    expect(stats.snapshot(60_000)).toMatchObject({ hits: 2, errors: 1 });
    expect(stats.snapshot(5_000)).toMatchObject({ hits: 1, errors: 0 });
  });

  it("keeps at most 8 slow routes and evicts the least recently hit route beyond maxRoutes", () => {
    const clock = new ManualClock(T0);
    const stats = new RouteStats(clock, { maxRoutes: 10 });
    for (let i = 0; i < 12; i++) {
      stats.record(`/slow/${i}`, 2000 + i * 100, true);
      clock.advance(1);
    }
    const snapshot = stats.snapshot(60_000);
    expect(snapshot.routes).toBe(10);
    expect(snapshot.slow_routes).toHaveLength(8);
    expect(snapshot.slow_routes?.[0]).toBe("/slow/11 (3100 ms)");
    expect(snapshot.slow_routes?.[7]).toBe("/slow/4 (2400 ms)");
  });

  it("honours a custom slow threshold", () => {
    const stats = new RouteStats(new ManualClock(T0), { slowThresholdMs: 100, maxSlowRoutes: 1 });
    stats.record("/x", 150, true);
    stats.record("/y", 250, true);
    expect(stats.snapshot(1000).slow_routes).toEqual(["/y (250 ms)"]);
  });

  it("windowed counts and EWMA equal a brute-force fold over the samples in the window", () => {
    const op = fc.record({
      dt: fc.integer({ min: 0, max: 3000 }),
      route: fc.constantFrom("/a", "/b"),
      ms: fc.integer({ min: 0, max: 4000 }),
      ok: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 20_000 }), (ops, windowMs) => {
        const clock = new ManualClock(T0);
        const stats = new RouteStats(clock, { bucketMs: 1, retentionMs: 60_000 });
        const all: { at: number; route: string; ms: number; ok: boolean }[] = [];
        for (const { dt, route, ms, ok } of ops) {
          clock.advance(dt);
          stats.record(route, ms, ok);
          all.push({ at: clock.now(), route, ms, ok });
        }
        const live = all.filter((s) => s.at > clock.now() - windowMs);
        const snapshot = stats.snapshot(windowMs);
        expect(snapshot.hits).toBe(live.length);
        expect(snapshot.errors).toBe(live.filter((s) => !s.ok).length);
        const ewmas = ["/a", "/b"].flatMap((route) => {
          const fold = new EwmaFold(0.3);
          for (const s of live) if (s.route === route) fold.add(s.ms);
          const value = fold.value();
          return value === undefined ? [] : [value];
        });
        expect(snapshot.routes).toBe(ewmas.length);
        if (live.length === 0) {
          expect(snapshot.avg_ewma_ms).toBeUndefined();
          expect(snapshot.error_rate).toBeUndefined();
        } else {
          const avg = ewmas.reduce((a, b) => a + b, 0) / ewmas.length;
          expect(Math.abs((snapshot.avg_ewma_ms as number) - avg)).toBeLessThanOrEqual(0.05 + 1e-6);
          expect(snapshot.error_rate).toBeCloseTo(snapshot.errors / snapshot.hits, 12);
        }
      }),
    );
  });
});
