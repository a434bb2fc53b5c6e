import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deepMerge } from "../../config/defaults.js";

type Tree = { [key: string]: Tree | number | string | number[] | undefined };

const key = fc.constantFrom("a", "b", "c", "d");
const tree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.dictionary(
    key,
    fc.oneof(
      { depthSize: "small", maxDepth: 3 },
      fc.integer(),
      fc.string({ maxLength: 3 }),
      fc.array(fc.integer(), { maxLength: 3 }),
      tie("tree"),
    ),
    { maxKeys: 4 },
  ) as fc.Arbitrary<Tree>,
})).tree;

function isTree(v: unknown): v is Tree {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reference semantics written independently: every leaf of the override wins, other leaves survive. */
function leaves(t: Tree, prefix = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(t)) {
    if (isTree(v) && Object.keys(v).length > 0)
      for (const [p, x] of leaves(v, `${prefix}${k}.`)) out.set(p, x);
    else out.set(`${prefix}${k}`, v);
  }
  return out;
}

function at(t: unknown, p: string): unknown {
  return p.split(".").reduce<unknown>((node, k) => (isTree(node) ? node[k] : undefined), t);
}

/** Whether the override sets anything on the way to (or at) path p. */
function hasPrefixIn(t: Tree, p: string): boolean {
  let node: unknown = t;
  for (const k of p.split(".")) {
    if (!isTree(node)) return true;
    if (!(k in node) || node[k] === undefined) return false;
    node = node[k];
  }
  return true;
}

describe("deepMerge", () => {
  it("merges nested objects key by key; arrays and scalars replace; undefined never overrides", () => {
    const base = { a: { x: 1, y: [1, 2] }, b: "keep", c: { deep: { z: 1, w: 2 } } };
    const merged = deepMerge(base, { a: { y: [3] }, b: undefined, c: { deep: { w: 5 } } });
    expect(merged).toEqual({ a: { x: 1, y: [3] }, b: "keep", c: { deep: { z: 1, w: 5 } } });
    expect(base).toEqual({ a: { x: 1, y: [1, 2] }, b: "keep", c: { deep: { z: 1, w: 2 } } });
  });

  it("applies overrides left to right (defaults ← file defaults ← runtime)", () => {
    expect(deepMerge({ n: 1, m: 1 }, { n: 2, m: 2 }, { n: 3 }, undefined)).toEqual({ n: 3, m: 2 });
  });

  it("property: identity with no override, idempotent, and the override's leaves win", () => {
    fc.assert(
      fc.property(tree, tree, (a, b) => {
        expect(deepMerge(a)).toEqual(a);
        expect(deepMerge(a, a)).toEqual(a);
        const merged = deepMerge<Tree>(a, b);
        for (const [p, v] of leaves(b)) {
          const got = at(merged, p);
          // An empty mapping adds no keys: it only guarantees a mapping is there.
          if (isTree(v)) expect(isTree(got)).toBe(true);
          else if (v !== undefined) expect(got).toEqual(v);
        }
        // Keys only the base has survive.
        for (const [p, v] of leaves(a))
          if (!hasPrefixIn(b, p) && !isTree(v)) expect(at(merged, p)).toEqual(v);
        expect(deepMerge<Tree>(merged, b)).toEqual(merged);
      }),
    );
  });
});
