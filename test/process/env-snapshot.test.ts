/**
 * The prepared launches share one copy of the environment (daemon/process/env-snapshot.ts): the same
 * object while nothing changed, a new one with the change the moment anything did.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { environmentSnapshot } from "../../daemon/process/env-snapshot.js";

const entries = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !k.includes("=")),
  fc.string({ maxLength: 12 }),
  { maxKeys: 12 },
);

describe("environmentSnapshot", () => {
  it("returns the same frozen copy while the environment is unchanged", () => {
    const env = { PATH: "/usr/bin", HOME: "/home/u" };
    const a = environmentSnapshot(env);
    const b = environmentSnapshot({ ...env });
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a).toEqual(env);
    expect(a).not.toBe(env);
  });

  it("reads process.env by default", () => {
    const snapshot = environmentSnapshot();
    expect(snapshot).toEqual({ ...process.env });
    expect(environmentSnapshot()).toBe(snapshot);
  });

  it("a changed, added or removed entry gives a new copy holding exactly the new environment", () => {
    fc.assert(
      fc.property(entries, entries, (before, after) => {
        const first = environmentSnapshot(before);
        expect(first).toEqual(before);
        const second = environmentSnapshot(after);
        expect(second).toEqual(after);
        const same =
          Object.keys(before).length === Object.keys(after).length &&
          Object.entries(before).every(([k, v]) => Object.hasOwn(after, k) && after[k] === v);
        expect(second === first).toBe(same);
      }),
    );
  });

  it("a key named like an Object.prototype member is an entry like any other", () => {
    const a = environmentSnapshot({ A: "1", constructor: "x" });
    expect(environmentSnapshot({ A: "1", toString: "x" })).not.toBe(a);
    const b = environmentSnapshot({ A: "1", constructor: "x" });
    expect(environmentSnapshot({ constructor: "x", A: "1" })).toBe(b);
  });

  it("copies: a later change to the source does not reach the snapshot", () => {
    const env: NodeJS.ProcessEnv = { X: "1" };
    const a = environmentSnapshot(env);
    env.X = "2";
    expect(a.X).toBe("1");
    expect(environmentSnapshot(env).X).toBe("2");
  });
});
