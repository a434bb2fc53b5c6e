/**
 * BusyDetector (daemon/busy-detector.ts) against a model, for any sequence of samples (time advanced,
 * CPU used in that interval): samples inside the grace period never make it busy; after it, the first
 * interval that used at least the rule's share of a core does, and that interval is what it reports;
 * it never becomes busy otherwise, and never stops being busy.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUSY_RULE, BusyDetector, type BusyRule } from "../../daemon/busy-detector.js";

const rule: BusyRule = { sampleMs: 1000, busyFraction: 0.15, graceMs: 10_000 };
const step = fc.record({
  advanceMs: fc.integer({ min: 0, max: 4000 }),
  // Share of a core the interval used: 0 to 2 cores (two threads busy), often near the threshold.
  fraction: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.constantFrom(0.149, 0.15, 0.151)),
});

describe("BusyDetector", () => {
  it("busy from the first post-grace interval at or above the threshold, one-way", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.integer({ min: 0, max: 1e9 }),
        fc.array(step, { maxLength: 60 }),
        (start, cpu0, steps) => {
          const d = new BusyDetector(rule, start, cpu0);
          let now = start;
          let cpu = cpu0;
          let expected: { fraction: number; intervalMs: number } | undefined;
          for (const s of steps) {
            now += s.advanceMs;
            const used = Math.round(s.fraction * s.advanceMs * 1000);
            cpu += used;
            const got = d.observe(now, cpu);
            const wasBusy = expected !== undefined;
            if (
              !wasBusy &&
              now - start >= rule.graceMs &&
              s.advanceMs > 0 &&
              used / 1000 / s.advanceMs >= rule.busyFraction
            ) {
              expected = { fraction: used / 1000 / s.advanceMs, intervalMs: s.advanceMs };
              expect(got).toEqual(expected);
            } else {
              expect(got).toBeUndefined();
            }
            expect(d.busy).toEqual(expected);
          }
        },
      ),
    );
  });

  it("a quiet daemon (0.3 % of a core, its start-up's 40 % inside the grace) is never busy", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.149, noNaN: true }), { maxLength: 200 }), (quiet) => {
        const d = new BusyDetector(BUSY_RULE, 0, 0);
        let cpu = 0;
        let now = 0;
        for (let i = 0; i < 4; i++) {
          now += 1000;
          cpu += 400_000; // 40 % of a core, start-up
          expect(d.observe(now, cpu)).toBeUndefined();
        }
        for (const f of quiet) {
          now += 1000;
          cpu += Math.floor(f * 1_000_000);
          expect(d.observe(now, cpu)).toBeUndefined();
        }
        expect(d.busy).toBeUndefined();
      }),
    );
  });
});
