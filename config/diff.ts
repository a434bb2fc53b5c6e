import { isDeepStrictEqual } from "node:util";
import type { RuntimeSpec } from "../base/spec.js";

export interface RuntimeDiff {
  added: RuntimeSpec[];
  /** Ids no longer configured. */
  removed: string[];
  /** Same id, different spec: the new spec. */
  changed: RuntimeSpec[];
  unchanged: string[];
}

/** Drops `undefined`-valued keys so a missing key and an explicit `undefined` compare equal. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, normalized(v)]),
    );
  }
  return value;
}

/** Spec equality: deep, independent of key order. */
export function sameRuntimeSpec(a: RuntimeSpec, b: RuntimeSpec): boolean {
  return isDeepStrictEqual(normalized(a), normalized(b));
}

/** What a reload (SIGHUP) must do: start added, stop removed, restart changed, leave unchanged alone. */
export function diffRuntimes(prev: RuntimeSpec[], next: RuntimeSpec[]): RuntimeDiff {
  const before = new Map(prev.map((spec) => [spec.id, spec]));
  const nextIds = new Set(next.map((spec) => spec.id));
  const diff: RuntimeDiff = { added: [], removed: [], changed: [], unchanged: [] };
  for (const spec of next) {
    const old = before.get(spec.id);
    if (old === undefined) diff.added.push(spec);
    else if (sameRuntimeSpec(old, spec)) diff.unchanged.push(spec.id);
    else diff.changed.push(spec);
  }
  for (const spec of prev) if (!nextIds.has(spec.id)) diff.removed.push(spec.id);
  return diff;
}
