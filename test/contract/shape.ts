/**
 * The recorder's `shape` format, computed for a live answer, and the comparison against a recorded one:
 * keys with JSON types, recursively; `number(int)` for integers; arrays as their distinct element shapes,
 * `["<empty array>"]` when empty.
 */
export type Shape = string | Shape[] | { [key: string]: Shape };

export function shapeOf(value: unknown): Shape {
  if (value === null) return "null";
  if (Array.isArray(value)) {
    if (value.length === 0) return ["<empty array>"];
    const distinct = new Map<string, Shape>();
    for (const item of value) {
      const s = shapeOf(item);
      distinct.set(JSON.stringify(s), s);
    }
    return [...distinct.values()];
  }
  if (typeof value === "object") {
    const out: Record<string, Shape> = {};
    for (const key of Object.keys(value as object).sort())
      out[key] = shapeOf((value as Record<string, unknown>)[key]);
    return out;
  }
  if (typeof value === "number") return Number.isInteger(value) ? "number(int)" : "number";
  return typeof value;
}

/** Differences of `actual` from `recorded` ("number" accepts a whole value: a float may land on one). */
export function compareShape(recorded: Shape, actual: Shape, at = "$"): string[] {
  if (typeof recorded === "string") {
    if (recorded === actual || (recorded === "number" && actual === "number(int)")) return [];
    return [`${at}: recorded ${JSON.stringify(recorded)}, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(recorded)) {
    if (!Array.isArray(actual)) return [`${at}: recorded an array, got ${JSON.stringify(actual)}`];
    const recordedEmpty = recorded.length === 1 && recorded[0] === "<empty array>";
    const actualEmpty = actual.length === 1 && actual[0] === "<empty array>";
    if (recordedEmpty || actualEmpty) {
      return recordedEmpty === actualEmpty
        ? []
        : [`${at}[]: recorded ${JSON.stringify(recorded)}, got ${JSON.stringify(actual)}`];
    }
    const out: string[] = [];
    for (const element of actual) {
      const misses = recorded.map((r) => compareShape(r, element, `${at}[]`));
      if (!misses.some((m) => m.length === 0)) out.push(...(misses[0] ?? []));
    }
    return out;
  }
  if (typeof actual !== "object" || actual === null || Array.isArray(actual)) {
    return [`${at}: recorded an object, got ${JSON.stringify(actual)}`];
  }
  const out: string[] = [];
  for (const key of Object.keys(recorded)) {
    if (!(key in actual)) out.push(`${at}.${key}: recorded, missing`);
    else out.push(...compareShape(recorded[key] as Shape, actual[key] as Shape, `${at}.${key}`));
  }
  for (const key of Object.keys(actual))
    if (!(key in recorded)) out.push(`${at}.${key}: not recorded, present`);
  return out;
}

/** `<volatile string: chatcmpl-… (41 chars)>`: the prefix and length are still facts. */
function volatileMismatch(recorded: string, actual: unknown): string | undefined {
  const m = /^<volatile string: (.*)… \((\d+) chars\)>$/.exec(recorded);
  if (m === null) return undefined;
  if (typeof actual !== "string" || !actual.startsWith(m[1] as string) || actual.length !== Number(m[2])) {
    return `recorded ${recorded}, got ${JSON.stringify(actual)}`;
  }
  return undefined;
}

/**
 * Differences in the values at `deterministic` paths (`$.error.message`, `$.choices[].finish_reason`…):
 * every other value (generated text, timings, tokenizer ids) depends on the model or the clock.
 */
export function compareValues(
  recorded: unknown,
  actual: unknown,
  deterministic: (path: string) => boolean,
  at = "$",
): string[] {
  if (typeof recorded === "string" && recorded.startsWith("<")) {
    if (!deterministic(at)) return [];
    const miss = volatileMismatch(recorded, actual);
    return miss === undefined ? [] : [`${at}: ${miss}`];
  }
  if (Array.isArray(recorded)) {
    if (!Array.isArray(actual)) return deterministic(at) ? [`${at}: recorded an array`] : [];
    const out: string[] = [];
    recorded.forEach((r, i) => {
      if (i < actual.length) out.push(...compareValues(r, actual[i], deterministic, `${at}[]`));
    });
    return out;
  }
  if (recorded !== null && typeof recorded === "object") {
    if (actual === null || typeof actual !== "object") return [];
    const out: string[] = [];
    for (const [key, value] of Object.entries(recorded)) {
      out.push(
        ...compareValues(value, (actual as Record<string, unknown>)[key], deterministic, `${at}.${key}`),
      );
    }
    return out;
  }
  if (!deterministic(at)) return [];
  return JSON.stringify(recorded) === JSON.stringify(actual)
    ? []
    : [`${at}: recorded ${JSON.stringify(recorded)}, got ${JSON.stringify(actual)}`];
}
