import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, formatSize, parseDuration, parseSize } from "../../base/units.js";

const DURATION_FACTORS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const SIZE_FACTORS = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 } as const;

describe("durations", () => {
  it("parses every unit, decimals, and bare milliseconds", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("5s")).toBe(5_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(parseDuration("0ms")).toBe(0);
    expect(parseDuration(1234)).toBe(1234);
  });

  it("rejects what is not a duration", () => {
    for (const bad of ["", "5", "5 s", "5sec", "-1s", "1h30m", "s", "1.s", "1e3ms", "five"]) {
      expect(parseDuration(bad), bad).toBeUndefined();
    }
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(parseDuration(bad)).toBeUndefined();
  });

  it("formats with the largest exact unit", () => {
    expect(formatDuration(0)).toBe("0ms");
    expect(formatDuration(1500)).toBe("1500ms");
    expect(formatDuration(90_000)).toBe("90s");
    expect(formatDuration(600_000)).toBe("10m");
    expect(formatDuration(86_400_000)).toBe("1d");
  });

  it("property: parse(format(ms)) = ms for any whole number of milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it("property: n<unit> parses to n × unit, and formatting that round-trips", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.constantFrom(...(Object.keys(DURATION_FACTORS) as Array<keyof typeof DURATION_FACTORS>)),
        (n, unit) => {
          const ms = parseDuration(`${n}${unit}`);
          expect(ms).toBe(n * DURATION_FACTORS[unit]);
          expect(parseDuration(formatDuration(ms!))).toBe(ms);
        },
      ),
    );
  });
});

describe("sizes (1024-based)", () => {
  it("parses every unit, case-insensitively, with KiB-style synonyms", () => {
    expect(parseSize("100B")).toBe(100);
    expect(parseSize("512KB")).toBe(512 * 1024);
    expect(parseSize("10MB")).toBe(10 * 1024 ** 2);
    expect(parseSize("8GB")).toBe(8 * 1024 ** 3);
    expect(parseSize("1TB")).toBe(1024 ** 4);
    expect(parseSize("10mb")).toBe(10 * 1024 ** 2);
    expect(parseSize("1GiB")).toBe(1024 ** 3);
    expect(parseSize("1.5KB")).toBe(1536);
    expect(parseSize("10 MB")).toBe(10 * 1024 ** 2);
    expect(parseSize(4096)).toBe(4096);
  });

  it("rejects what is not a size", () => {
    for (const bad of ["", "10", "10M", "10 MBs", "-1KB", "KB", "ten MB", "1PB"]) {
      expect(parseSize(bad), bad).toBeUndefined();
    }
    expect(parseSize(-5)).toBeUndefined();
  });

  it("formats with the largest exact unit", () => {
    expect(formatSize(0)).toBe("0B");
    expect(formatSize(1500)).toBe("1500B");
    expect(formatSize(10 * 1024 ** 2)).toBe("10MB");
    expect(formatSize(1536)).toBe("1536B");
    expect(formatSize(3 * 1024 ** 4)).toBe("3TB");
  });

  it("property: parse(format(bytes)) = bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (bytes) => {
        expect(parseSize(formatSize(bytes))).toBe(bytes);
      }),
    );
  });

  it("property: n<unit> parses to n × unit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4096 }),
        fc.constantFrom(...(Object.keys(SIZE_FACTORS) as Array<keyof typeof SIZE_FACTORS>)),
        (n, unit) => {
          expect(parseSize(`${n}${unit}`)).toBe(n * SIZE_FACTORS[unit]);
          expect(parseSize(`${n}${unit.toLowerCase()}`)).toBe(n * SIZE_FACTORS[unit]);
        },
      ),
    );
  });
});
