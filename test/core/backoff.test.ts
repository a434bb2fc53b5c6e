import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BackoffSpec } from "../../base/spec.js";
import { backoffDelay, shouldResetBackoff } from "../../daemon/supervise/backoff.js";

const SPEC: BackoffSpec = { initial_ms: 1000, max_ms: 30_000, factor: 2, jitter: 0, reset_after_ms: 60_000 };
const mid = () => 0.5;

describe("backoffDelay", () => {
  it("starts at initial and multiplies by factor up to max", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 50, 10_000].map((n) => backoffDelay(SPEC, n, mid));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it("applies jitter within [1 - j, 1 + j] of the capped delay", () => {
    const spec = { ...SPEC, jitter: 0.2 };
    expect(backoffDelay(spec, 1, () => 0)).toBe(800);
    expect(backoffDelay(spec, 1, () => 0.5)).toBe(1000);
    expect(backoffDelay(spec, 1, () => 0.999_999)).toBe(1199);
    expect(backoffDelay(spec, 20, () => 0.999_999)).toBeLessThanOrEqual(36_000);
    expect(backoffDelay(spec, 20, () => 0)).toBe(24_000);
  });

  it("is 0 when initial is 0, and treats counts below 1 or not finite as the first failure", () => {
    expect(backoffDelay({ ...SPEC, initial_ms: 0 }, 5, mid)).toBe(0);
    expect(backoffDelay(SPEC, 0, mid)).toBe(1000);
    expect(backoffDelay(SPEC, -3, mid)).toBe(1000);
    expect(backoffDelay(SPEC, Number.NaN, mid)).toBe(1000);
    expect(backoffDelay(SPEC, 2.9, mid)).toBe(2000);
  });

  it("clamps odd specs and random sources instead of returning NaN or negative delays", () => {
    expect(backoffDelay({ ...SPEC, factor: 0.5 }, 4, mid)).toBe(1000);
    expect(backoffDelay({ ...SPEC, jitter: 3 }, 1, () => 0)).toBe(0);
    expect(backoffDelay({ ...SPEC, jitter: 0.5 }, 1, () => Number.NaN)).toBe(1000);
    expect(backoffDelay({ ...SPEC, jitter: 0.5 }, 1, () => -4)).toBe(500);
    expect(backoffDelay({ ...SPEC, initial_ms: 50_000 }, 1, mid)).toBe(30_000);
  });
});

describe("shouldResetBackoff", () => {
  it("resets once uptime reaches reset_after_ms", () => {
    expect(shouldResetBackoff(SPEC, 59_999)).toBe(false);
    expect(shouldResetBackoff(SPEC, 60_000)).toBe(true);
    expect(shouldResetBackoff(SPEC, 600_000)).toBe(true);
  });
});

const specArb = fc.record({
  initial_ms: fc.integer({ min: 0, max: 60_000 }),
  max_ms: fc.integer({ min: 0, max: 600_000 }),
  factor: fc.double({ min: 1, max: 4, noNaN: true }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  reset_after_ms: fc.integer({ min: 0, max: 600_000 }),
});
const unitArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("backoff properties", () => {
  it("0 ≤ delay ≤ max × (1 + jitter), whole ms, and 0 whenever initial is 0", () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: -5, max: 10_000 }), unitArb, (spec, n, r) => {
        const delay = backoffDelay(spec, n, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(spec.max_ms * (1 + spec.jitter));
        if (spec.initial_ms === 0) expect(delay).toBe(0);
      }),
    );
  });

  it("with the same random draw, never shrinks as failures pile up", () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 200 }), unitArb, (spec, n, r) => {
        expect(backoffDelay(spec, n + 1, () => r)).toBeGreaterThanOrEqual(backoffDelay(spec, n, () => r));
      }),
    );
  });
});
