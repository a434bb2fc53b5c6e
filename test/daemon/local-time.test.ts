/**
 * The daemon's clock times in views and reasons (formatLocalTime): the same text as
 * toLocaleTimeString("en-GB", { hour12: false }), which it no longer calls (an Intl formatter per call
 * cost ~0.13 ms, twice per status view, on the respawn path too) — property-tested over any instant.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatLocalTime } from "../../base/clock.js";

describe("formatLocalTime", () => {
  it("property: prints what toLocaleTimeString('en-GB', { hour12: false }) prints, for any instant", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        const iso = new Date(ms).toISOString();
        expect(formatLocalTime(iso)).toBe(new Date(ms).toLocaleTimeString("en-GB", { hour12: false }));
      }),
      { numRuns: 2000 },
    );
    expect(formatLocalTime("not a time")).toBe("not a time");
  });
});
