import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RuntimeSpec } from "../../base/spec.js";
import { BUILTIN_RUNTIME_DEFAULTS } from "../../config/defaults.js";
import { diffRuntimes, sameRuntimeSpec } from "../../config/diff.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

const spec = (id: string, over: Partial<RuntimeSpec> = {}): RuntimeSpec => defaultRuntimeSpec(id, over);

/** The same object with keys in reverse order at every level. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reversedKeys(v)]),
    ) as T;
  }
  return value;
}

const runtimeSpec = (id: string): fc.Arbitrary<RuntimeSpec> =>
  fc
    .record({
      port: fc.option(fc.integer({ min: 1024, max: 1030 }), { nil: undefined }),
      args: fc.array(fc.constantFrom("-t", "8", "--metrics"), { maxLength: 2 }),
      hardware: fc.constantFrom("cpu", "gpu:0"),
      max_restarts: fc.integer({ min: 0, max: 2 }),
      env: fc.dictionary(fc.constantFrom("A", "B"), fc.constantFrom("1", "2"), { maxKeys: 2 }),
    })
    .map(({ port, args, hardware, max_restarts, env }) =>
      spec(id, {
        port,
        args,
        hardware,
        env,
        restart_budget: { ...BUILTIN_RUNTIME_DEFAULTS.restart_budget, max_restarts },
      }),
    );

const specList: fc.Arbitrary<RuntimeSpec[]> = fc
  .uniqueArray(fc.constantFrom("a", "b", "c", "d", "e", "f"), { maxLength: 6 })
  .chain((ids) => (ids.length === 0 ? fc.constant([]) : fc.tuple(...ids.map(runtimeSpec))));

describe("diffRuntimes", () => {
  it("classifies added, removed, changed and unchanged", () => {
    const prev = [spec("keep"), spec("drop"), spec("edit", { args: ["-t", "4"] })];
    const next = [spec("edit", { args: ["-t", "8"] }), spec("keep"), spec("new")];
    const diff = diffRuntimes(prev, next);
    expect(diff.added.map((s) => s.id)).toEqual(["new"]);
    expect(diff.removed).toEqual(["drop"]);
    expect(diff.changed).toEqual([spec("edit", { args: ["-t", "8"] })]);
    expect(diff.unchanged).toEqual(["keep"]);
  });

  it("compares deeply: a nested change counts, key order and explicit undefined do not", () => {
    const a = spec("a");
    const nested = spec("a", { health: { ...a.health, inference: { ...a.health.inference, prompt: "Yo" } } });
    expect(diffRuntimes([a], [nested]).changed.map((s) => s.id)).toEqual(["a"]);
    expect(diffRuntimes([a], [reversedKeys(a)]).unchanged).toEqual(["a"]);
    expect(sameRuntimeSpec(a, { ...a, port: undefined })).toBe(true);
    expect(sameRuntimeSpec(a, { ...a, port: 8080 })).toBe(false);
    expect(sameRuntimeSpec(spec("a", { args: ["x", "y"] }), spec("a", { args: ["y", "x"] }))).toBe(false);
  });

  it("property: diff(a, a) leaves everything unchanged, even with keys reordered", () => {
    fc.assert(
      fc.property(specList, (list) => {
        const diff = diffRuntimes(list, list.map(reversedKeys));
        expect(diff).toEqual({ added: [], removed: [], changed: [], unchanged: list.map((s) => s.id) });
      }),
    );
  });

  it("property: added/changed/unchanged partition next's ids, removed/changed/unchanged partition prev's", () => {
    fc.assert(
      fc.property(specList, specList, (prev, next) => {
        const diff = diffRuntimes(prev, next);
        const changed = diff.changed.map((s) => s.id);
        const added = diff.added.map((s) => s.id);
        const sorted = (ids: string[]) => [...ids].sort();
        expect(sorted([...added, ...changed, ...diff.unchanged])).toEqual(sorted(next.map((s) => s.id)));
        expect(sorted([...diff.removed, ...changed, ...diff.unchanged])).toEqual(
          sorted(prev.map((s) => s.id)),
        );
        expect(new Set([...added, ...changed, ...diff.unchanged, ...diff.removed]).size).toBe(
          added.length + changed.length + diff.unchanged.length + diff.removed.length,
        );
        // Changed carries the new spec, and "changed" means really different.
        for (const s of diff.changed) {
          expect(next).toContain(s);
          expect(sameRuntimeSpec(s, prev.find((p) => p.id === s.id)!)).toBe(false);
        }
        for (const id of diff.unchanged) {
          expect(sameRuntimeSpec(prev.find((p) => p.id === id)!, next.find((n) => n.id === id)!)).toBe(true);
        }
      }),
    );
  });
});
