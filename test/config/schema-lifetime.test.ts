/**
 * The config schema is built per parse (config/schema.ts, buildConfigFileSchema) so the daemon does not
 * keep its ~3.5 MiB of zod objects between reloads: a schema nobody holds must be collectable, which a
 * registry entry (`.meta({ id })` puts the schema in zod's global id map) or a module-level cache would break.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";
import { buildConfigFileSchema } from "../../config/schema.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return ref.deref() === undefined;
}

describe("config schema lifetime", () => {
  it("each call builds a new schema, and a used one is collected once dropped", async () => {
    expect(buildConfigFileSchema()).not.toBe(buildConfigFileSchema());
    let schema: ReturnType<typeof buildConfigFileSchema> | undefined = buildConfigFileSchema();
    expect(schema.safeParse({ runtimes: [{ id: "a", adapter: "llama-stub" }] }).success).toBe(true);
    expect(schema.safeParse({ runtimes: [{ id: "a", adapter: "nope" }] }).success).toBe(false);
    const ref = new WeakRef(schema);
    schema = undefined;
    expect(await collected(ref), "the schema is still reachable").toBe(true);
  });

  it("parsing the same text twice gives equal configurations (nothing carried from one parse to the next)", () => {
    const text = "runtimes:\n  - { id: a, adapter: llama-stub }\n";
    expect(parseConfigText(text, "<test>", "/tmp")).toEqual(parseConfigText(text, "<test>", "/tmp"));
  });
});
