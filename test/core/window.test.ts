import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock, rfc3339 } from "../../base/clock.js";
import {
  DEFAULT_EWMA_ALPHA,
  EwmaFold,
  isErrorOutcome,
  LatencyWindow,
  type ProbeKind,
  percentile,
  type Sample,
} from "../../daemon/health/window.js";
import { T0 } from "./fixtures.js";

describe("isErrorOutcome", () => {
  it("counts only 5xx, timeouts and connection errors", () => {
    const cases: [ProbeKind, number | undefined, boolean][] = [
      ["ok", 200, false],
      ["loading", 503, false],
      ["refused", undefined, true],
      ["timeout", undefined, true],
      ["error", undefined, true],
      ["http_error", 500, true],
      ["http_error", 503, true],
      ["http_error", 599, true],
      ["http_error", 404, false],
      ["http_error", 400, false],
      ["http_error", 429, false],
      ["http_error", undefined, true],
    ];
    for (const [kind, status, expected] of cases) {
      expect(isErrorOutcome(kind, status), `${kind} ${status}`).toBe(expected);
    }
  });
});

describe("percentile (nearest rank)", () => {
  it("picks the nearest-rank element", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile([], 50)).toBeUndefined();
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 95)).toBe(40);
  });

  it("returns an element with at least p% of the list at or below it, and is the smallest such", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 100 }),
        (values, p) => {
          const sorted = [...values].sort((a, b) => a - b);
          const result = percentile(sorted, p) as number;
          expect(sorted).toContain(result);
          const atOrBelow = sorted.filter((v) => v <= result).length;
          expect(atOrBelow / sorted.length).toBeGreaterThanOrEqual(p / 100);
          const below = sorted.filter((v) => v < result).length;
          expect(below / sorted.length).toBeLessThan(Math.max(p / 100, 1 / sorted.length));
        },
      ),
    );
  });
});

describe("EwmaFold", () => {
  it("is exact for one sample and follows the bias-corrected recursion", () => {
    const fold = new EwmaFold(0.3);
    expect(fold.value()).toBeUndefined();
    fold.add(100);
    expect(fold.value()).toBeCloseTo(100, 10);
    fold.add(200);
    // sum = 0.7·30 + 0.3·200 = 81; weight = 1 − 0.49 = 0.51
    expect(fold.value()).toBeCloseTo(81 / 0.51, 10);
  });

  it("folding pre-accumulated groups equals folding the samples one by one", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 8 }), {
          maxLength: 8,
        }),
        (groups) => {
          const flat = new EwmaFold(0.3);
          const grouped = new EwmaFold(0.3);
          for (const group of groups) {
            let sum = 0;
            let decay = 1;
            for (const value of group) {
              flat.add(value);
              sum = sum * 0.7 + 0.3 * value;
              decay *= 0.7;
            }
            grouped.addGroup(sum, decay);
          }
          const a = flat.value();
          const b = grouped.value();
          if (a === undefined) expect(b).toBeUndefined();
          else expect(b).toBeCloseTo(a, 6);
        },
      ),
    );
  });
});

describe("LatencyWindow", () => {
  it("summarises the samples in the window", () => {
    const clock = new ManualClock(T0);
    const window = new LatencyWindow(60_000, clock);
    expect(window.summary()).toEqual({ window_seconds: 60, requests: 0, errors: 0, error_rate: 0 });
    expect(window.lastSampleAt()).toBeUndefined();
    window.record({ ms: 10, ok: true, status: 200 });
    clock.advance(1000);
    window.record({ ms: 30, ok: true, status: 200 });
    clock.advance(1000);
    window.record({ ms: 5000, ok: false, error: "timeout after 5000 ms" });
    clock.advance(1000);
    window.record({ ms: 20, ok: false, status: 500 });
    const summary = window.summary();
    expect(summary).toMatchObject({
      window_seconds: 60,
      requests: 4,
      errors: 2,
      error_rate: 0.5,
      p50_ms: 20,
      p95_ms: 5000,
      last_error: "HTTP 500",
      last_ok_at: rfc3339(T0 + 1000),
    });
    expect(summary.ewma_ms).toBeGreaterThan(10);
    expect(summary.ewma_ms).toBeLessThan(5000);
    expect(window.lastSampleAt()).toBe(T0 + 3000);
  });

  it("ages errors out: once the window has passed nothing is counted (no latching)", () => {
    const clock = new ManualClock(T0);
    const window = new LatencyWindow(10_000, clock);
    window.record({ ms: 12, ok: true });
    clock.advance(1);
    window.record({ ms: 900, ok: false, error: "connection refused" });
    expect(window.summary()).toMatchObject({ requests: 2, errors: 1, last_error: "connection refused" });
    // At exactly window - 1 ms after the error it is still in; at window it is out.
    clock.set(T0 + 1 + 9_999);
    expect(window.summary()).toMatchObject({ requests: 1, errors: 1 });
    clock.set(T0 + 1 + 10_000);
    const later = window.summary();
    expect(later).toEqual({
      window_seconds: 10,
      requests: 0,
      errors: 0,
      error_rate: 0,
      last_ok_at: rfc3339(T0),
    });
  });

  it("keeps only the newest maxSamples in its ring", () => {
    const clock = new ManualClock(T0);
    const window = new LatencyWindow(60_000, clock, { maxSamples: 4 });
    for (let i = 1; i <= 10; i++) {
      window.record({ ms: i * 10, ok: i % 2 === 0 });
      clock.advance(10);
    }
    const summary = window.summary();
    expect(summary.requests).toBe(4);
    // Samples 7..10: ms 70, 80, 90, 100; odd ones failed.
    expect(summary.errors).toBe(2);
    expect(summary.p50_ms).toBe(80);
    expect(summary.p95_ms).toBe(100);
  });

  it("uses the configured EWMA alpha", () => {
    const clock = new ManualClock(T0);
    const window = new LatencyWindow(60_000, clock, { ewmaAlpha: 1 });
    window.record({ ms: 100, ok: true });
    window.record({ ms: 300, ok: true });
    expect(window.summary().ewma_ms).toBe(300);
  });

  it("properties: counts bounded, rates in [0, 1], p50 ≤ p95, statistics within the live range", () => {
    const op = fc.record({
      dt: fc.integer({ min: 0, max: 4000 }),
      ms: fc.integer({ min: 0, max: 10_000 }),
      ok: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 1, max: 16 }), (ops, maxSamples) => {
        const clock = new ManualClock(T0);
        const windowMs = 20_000;
        const window = new LatencyWindow(windowMs, clock, { maxSamples });
        const all: { at: number; ms: number; ok: boolean }[] = [];
        for (const { dt, ms, ok } of ops) {
          clock.advance(dt);
          window.record({ ms, ok });
          all.push({ at: clock.now(), ms, ok });
          const summary = window.summary();
          // Brute force: the newest maxSamples records that are still inside the window.
          const live = all.slice(-maxSamples).filter((s) => s.at > clock.now() - windowMs);
          expect(summary.requests).toBe(live.length);
          expect(summary.errors).toBe(live.filter((s) => !s.ok).length);
          expect(summary.error_rate).toBeGreaterThanOrEqual(0);
          expect(summary.error_rate).toBeLessThanOrEqual(1);
          const min = Math.min(...live.map((s) => s.ms));
          const max = Math.max(...live.map((s) => s.ms));
          expect(summary.p50_ms as number).toBeLessThanOrEqual(summary.p95_ms as number);
          expect(summary.p50_ms).toBeGreaterThanOrEqual(min);
          expect(summary.p95_ms).toBeLessThanOrEqual(max);
          expect(summary.ewma_ms as number).toBeGreaterThanOrEqual(min - 1e-9);
          expect(summary.ewma_ms as number).toBeLessThanOrEqual(max + 1e-9);
        }
        // After a full window of silence, nothing from the past counts.
        clock.advance(windowMs);
        const quiet = window.summary();
        expect(quiet.requests).toBe(0);
        expect(quiet.errors).toBe(0);
        expect(quiet.last_error).toBeUndefined();
      }),
    );
  });

  it("its columns, grown in place up to maxSamples, summarise exactly as the list of samples they replace", () => {
    // The reference: the newest maxSamples samples as objects, filtered and folded as the summary says.
    const reference = (
      all: readonly Sample[],
      maxSamples: number,
      now: number,
      windowMs: number,
      alpha: number,
    ) => {
      const live = all.slice(-maxSamples).filter((s) => s.at > now - windowMs);
      const ok = all.filter((s) => s.ok).at(-1);
      const summary: Record<string, unknown> = {
        window_seconds: windowMs / 1000,
        requests: live.length,
        errors: live.filter((s) => !s.ok).length,
        error_rate: 0,
      };
      if (ok !== undefined) summary.last_ok_at = rfc3339(ok.at);
      if (live.length === 0) return summary;
      const ewma = new EwmaFold(alpha);
      for (const s of live) ewma.add(s.ms);
      summary.error_rate = (summary.errors as number) / live.length;
      const sorted = live.map((s) => s.ms).sort((a, b) => a - b);
      summary.p50_ms = percentile(sorted, 50);
      summary.p95_ms = percentile(sorted, 95);
      summary.ewma_ms = ewma.value();
      const failed = live.filter((s) => !s.ok).at(-1);
      if (failed !== undefined)
        summary.last_error =
          failed.error ?? (failed.status !== undefined ? `HTTP ${failed.status}` : "probe failed");
      return summary;
    };
    const op = fc.record({
      dt: fc.integer({ min: 0, max: 1500 }),
      ms: fc.double({ min: 0, max: 5000, noNaN: true }),
      ok: fc.boolean(),
      status: fc.option(fc.constantFrom(200, 404, 500, 503), { nil: undefined }),
      error: fc.option(fc.constantFrom("connection refused", "no answer within 2000 ms"), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), fc.integer({ min: 1, max: 70 }), (ops, maxSamples) => {
        const clock = new ManualClock(T0);
        const windowMs = 30_000;
        const window = new LatencyWindow(windowMs, clock, { maxSamples });
        const all: Sample[] = [];
        for (const { dt, ms, ok, status, error } of ops) {
          clock.advance(dt);
          const sample: Omit<Sample, "at"> = { ms, ok };
          if (status !== undefined) sample.status = status;
          if (error !== undefined) sample.error = error;
          if (all.length % 2 === 0) window.record(sample);
          else window.note(ok, ms, status, error);
          all.push({ ...sample, at: clock.now() });
          expect(window.summary()).toEqual(
            reference(all, maxSamples, clock.now(), windowMs, DEFAULT_EWMA_ALPHA),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
