/**
 * Linear-time glob matching for patterns that come from clients (event topics, pins). `*` matches any run
 * of characters (dots, slashes and newlines included); everything else is literal. No regex is ever built
 * from input: a backtracking regex such as `^.*.*.*…x$` takes exponential time on a near-miss, and one such
 * pattern used to freeze the daemon.
 *
 * How: the pattern splits at `*` into literal segments. The first must be a prefix, the last a suffix, and
 * the middle ones are found left to right, each at its leftmost occurrence after the previous one (leftmost
 * is always right for `*`-only globs: it leaves the most room for what follows). Each search is
 * Knuth-Morris-Pratt, so a match costs O(pattern + value) character comparisons whatever the input.
 */
import { RmxError } from "./errors.js";

/** Longest pattern accepted, in UTF-16 code units. */
export const MAX_GLOB_CHARS = 256;
/** Most `*` accepted in one pattern (runs like `**` count as written). */
export const MAX_GLOB_WILDCARDS = 16;

/** Counts character comparisons, so tests can measure work without timing anything. */
export interface GlobMeter {
  steps: number;
}

export interface GlobMatcher {
  readonly pattern: string;
  test(value: string, meter?: GlobMeter): boolean;
}

/** Why `pattern` is refused, or `undefined` when it is within the limits. */
export function globLimitProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_GLOB_CHARS) {
    return `is ${pattern.length} characters long (limit ${MAX_GLOB_CHARS})`;
  }
  let stars = 0;
  for (let i = 0; i < pattern.length; i += 1) if (pattern.charCodeAt(i) === STAR) stars += 1;
  if (stars > MAX_GLOB_WILDCARDS) return `has ${stars} '*' wildcards (limit ${MAX_GLOB_WILDCARDS})`;
  return undefined;
}

/** Throws PATTERN_INVALID naming the limit when `pattern` is over it. `what` names the pattern's role. */
export function assertGlobWithinLimits(pattern: string, what = "pattern"): void {
  const problem = globLimitProblem(pattern);
  if (problem === undefined) return;
  const shown = pattern.length > 40 ? `${pattern.slice(0, 40)}…` : pattern;
  throw new RmxError("PATTERN_INVALID", `${what} "${shown}" ${problem}`, {
    pattern: shown,
    max_chars: MAX_GLOB_CHARS,
    max_wildcards: MAX_GLOB_WILDCARDS,
  });
}

const STAR = 42; // "*"

/** Compiles a pattern (checked against the limits first; see `assertGlobWithinLimits`). */
export function compileGlob(pattern: string, what = "pattern"): GlobMatcher {
  assertGlobWithinLimits(pattern, what);
  const parts = pattern.split("*");
  if (parts.length === 1) {
    return {
      pattern,
      test: (value, meter) => {
        if (meter) meter.steps += Math.min(value.length, pattern.length) + 1;
        return value === pattern;
      },
    };
  }
  const head = parts[0] as string;
  const tail = parts[parts.length - 1] as string;
  const middle = parts
    .slice(1, -1)
    .filter((s) => s !== "")
    .map((s) => ({ s, fail: failureTable(s) }));
  const minLength = head.length + tail.length + middle.reduce((n, m) => n + m.s.length, 0);
  return {
    pattern,
    test(value, meter) {
      const counter = meter ?? { steps: 0 };
      counter.steps += 1;
      if (value.length < minLength) return false;
      if (!startsWithAt(value, head, 0, counter)) return false;
      const end = value.length - tail.length;
      if (!startsWithAt(value, tail, end, counter)) return false;
      let pos = head.length;
      for (const m of middle) {
        const found = kmpFind(value, m.s, m.fail, pos, end, counter);
        if (found < 0) return false;
        pos = found + m.s.length;
      }
      return true;
    },
  };
}

/** One-shot match; prefer `compileGlob` when the pattern is reused. */
export function globMatch(pattern: string, value: string, meter?: GlobMeter): boolean {
  return compileGlob(pattern).test(value, meter);
}

function startsWithAt(value: string, literal: string, at: number, meter: GlobMeter): boolean {
  for (let i = 0; i < literal.length; i += 1) {
    meter.steps += 1;
    if (value.charCodeAt(at + i) !== literal.charCodeAt(i)) return false;
  }
  return true;
}

function failureTable(s: string): Int32Array {
  const fail = new Int32Array(s.length);
  let k = 0;
  for (let i = 1; i < s.length; i += 1) {
    while (k > 0 && s.charCodeAt(i) !== s.charCodeAt(k)) k = fail[k - 1] as number;
    if (s.charCodeAt(i) === s.charCodeAt(k)) k += 1;
    fail[i] = k;
  }
  return fail;
}

/** Index of the first occurrence of `s` in `value[from, end)`, or -1. Linear in `end - from`. */
function kmpFind(
  value: string,
  s: string,
  fail: Int32Array,
  from: number,
  end: number,
  meter: GlobMeter,
): number {
  let k = 0;
  for (let i = from; i < end; i += 1) {
    const c = value.charCodeAt(i);
    meter.steps += 1;
    while (k > 0 && c !== s.charCodeAt(k)) {
      k = fail[k - 1] as number;
      meter.steps += 1;
    }
    if (c === s.charCodeAt(k)) k += 1;
    if (k === s.length) return i - s.length + 1;
  }
  return -1;
}
