import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RmxError } from "../../base/errors.js";
import {
  assertGlobWithinLimits,
  compileGlob,
  type GlobMeter,
  globMatch,
  MAX_GLOB_CHARS,
  MAX_GLOB_WILDCARDS,
} from "../../base/glob.js";

/** Obviously-correct reference: dynamic programming over (pattern index, value index). */
function reference(pattern: string, value: string): boolean {
  const m = pattern.length;
  const n = value.length;
  let row = new Array<boolean>(n + 1).fill(false);
  row[0] = true;
  for (let i = 1; i <= m; i += 1) {
    const next = new Array<boolean>(n + 1).fill(false);
    const p = pattern[i - 1];
    if (p === "*") {
      next[0] = row[0] as boolean;
      for (let j = 1; j <= n; j += 1) next[j] = (row[j] as boolean) || (next[j - 1] as boolean);
    } else {
      for (let j = 1; j <= n; j += 1) next[j] = (row[j - 1] as boolean) && value[j - 1] === p;
    }
    row = next;
  }
  return row[n] as boolean;
}

const alphabet = fc.constantFrom("a", "b", ".", "*");
const small = (max: number) => fc.array(alphabet, { maxLength: max }).map((cs) => cs.join(""));
const valuesOf = (max: number) =>
  fc.array(fc.constantFrom("a", "b", ".", "\n"), { maxLength: max }).map((cs) => cs.join(""));

describe("glob matcher", () => {
  it("agrees with a reference matcher on small random inputs", () => {
    fc.assert(
      fc.property(small(10), valuesOf(14), (pattern, value) => {
        fc.pre(pattern.split("*").length - 1 <= MAX_GLOB_WILDCARDS);
        expect(globMatch(pattern, value)).toBe(reference(pattern, value));
      }),
      { numRuns: 3000 },
    );
  });

  it("matches literal patterns exactly and treats regex characters literally", () => {
    expect(globMatch("runtime.exited", "runtime.exited")).toBe(true);
    expect(globMatch("runtime.exited", "runtimeXexited")).toBe(false);
    expect(globMatch("a+b(c)", "a+b(c)")).toBe(true);
    expect(globMatch("runtime.*", "runtime.state.changed")).toBe(true);
    expect(globMatch("*", "")).toBe(true);
    expect(globMatch("a*a", "a")).toBe(false);
  });

  it("does work linear in the input on adversarial patterns (steps, not time)", () => {
    // The patterns that made the regex version backtrack: many stars and a near-miss tail.
    const adversarial = fc.record({
      stars: fc.integer({ min: 1, max: MAX_GLOB_WILDCARDS }),
      seg: fc.constantFrom("", "a", "aa", "ab", "aab"),
      tail: fc.constantFrom("x", "ax", "aax", "b"),
      fill: fc.constantFrom("a", "ab", "aab"),
    });
    fc.assert(
      fc.property(adversarial, ({ stars, seg, tail, fill }) => {
        const pattern = `${Array.from({ length: stars }, () => `*${seg}`).join("")}${tail}`.slice(
          0,
          MAX_GLOB_CHARS,
        );
        const matcher = compileGlob(pattern);
        const steps = (n: number): number => {
          const meter: GlobMeter = { steps: 0 };
          matcher.test(fill.repeat(n), meter);
          return meter.steps;
        };
        const n = 2000;
        const s1 = steps(n);
        const s4 = steps(4 * n);
        // Linear: bounded by a small constant per character of input plus the pattern, and quadrupling the
        // input at most quadruples the work (plus the pattern-sized constant).
        expect(s1).toBeLessThanOrEqual(2 * n * fill.length + 2 * pattern.length + 4);
        expect(s4).toBeLessThanOrEqual(4 * s1 + 2 * pattern.length + 4);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses patterns over the limits, naming the limit", () => {
    const tooMany = `${"*".repeat(40)}x`;
    expect(() => assertGlobWithinLimits(tooMany, "topic pattern")).toThrowError(
      new RegExp(`40 '\\*' wildcards \\(limit ${MAX_GLOB_WILDCARDS}\\)`),
    );
    try {
      compileGlob("a".repeat(MAX_GLOB_CHARS + 1));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RmxError);
      expect((error as RmxError).code).toBe("PATTERN_INVALID");
      expect((error as RmxError).message).toContain(`limit ${MAX_GLOB_CHARS}`);
    }
    expect(() => compileGlob("*".repeat(MAX_GLOB_WILDCARDS))).not.toThrow();
  });
});
