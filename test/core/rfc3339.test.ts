/**
 * rfc3339 builds toISOString's text from the UTC fields (toISOString pages in ICU's time zone data for
 * the process's life): the same text for every instant a Date holds, the same error for the rest.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rfc3339 } from "../../base/clock.js";

const MAX_TIME = 8.64e15;
/** 0000-01-01T00:00:00.000Z and 10000-01-01T00:00:00.000Z (Date.UTC reads years 0-99 as 1900-1999). */
const YEAR_0 = -62_167_219_200_000;
const YEAR_10000 = 253_402_300_800_000;

describe("rfc3339", () => {
  it("property: prints what toISOString prints, for any instant a Date can hold", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -MAX_TIME, max: MAX_TIME }),
          fc.integer({ min: 0, max: 4_102_444_800_000 }),
          fc.double({ min: -MAX_TIME, max: MAX_TIME, noNaN: true }),
        ),
        (ms) => {
          expect(rfc3339(ms)).toBe(new Date(ms).toISOString());
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("the years' edges: four digits from 0 to 9999, six with a sign outside", () => {
    const edges = [YEAR_0 - 1, YEAR_0, YEAR_10000 - 1, YEAR_10000, -MAX_TIME, MAX_TIME, 0, -0];
    expect(edges.map(rfc3339)).toEqual(edges.map((ms) => new Date(ms).toISOString()));
    expect(rfc3339(-1)).toBe("1969-12-31T23:59:59.999Z");
    expect(rfc3339(YEAR_0 - 1)).toBe("-000001-12-31T23:59:59.999Z");
    expect(rfc3339(YEAR_10000)).toBe("+010000-01-01T00:00:00.000Z");
    expect(rfc3339(MAX_TIME)).toBe("+275760-09-13T00:00:00.000Z");
  });

  it("an instant no Date holds throws toISOString's RangeError", () => {
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      MAX_TIME + 1,
      -MAX_TIME - 1,
    ]) {
      expect(() => new Date(bad).toISOString()).toThrow(RangeError);
      expect(() => rfc3339(bad)).toThrow(new RangeError("Invalid time value"));
    }
  });
});
