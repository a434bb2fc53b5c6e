import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { embeddedConfigText } from "../../config/embedded.js";
import { configJsonSchema } from "../../config/json-schema.js";

const here = path.dirname(fileURLToPath(import.meta.url));
type Schema = Record<string, unknown>;

/**
 * A small structural JSON Schema checker (type, enum, properties, required, additionalProperties, items,
 * anyOf, pattern, propertyNames, numeric bounds, minLength): enough to show editors get a usable schema.
 */
function violations(schema: Schema, value: unknown, at = "$"): string[] {
  const out: string[] = [];
  if (Array.isArray(schema.anyOf)) {
    const branches = (schema.anyOf as Schema[]).map((s) => violations(s, value, at));
    if (branches.every((b) => b.length > 0))
      out.push(`${at}: matches no anyOf branch (${branches.flat().join("; ")})`);
  }
  const types = schema.type === undefined ? undefined : ([] as unknown[]).concat(schema.type);
  if (types) {
    const actual =
      value === null
        ? "null"
        : Array.isArray(value)
          ? "array"
          : Number.isInteger(value)
            ? "integer"
            : typeof value;
    const ok = types.includes(actual) || (actual === "integer" && types.includes("number"));
    if (!ok) return [...out, `${at}: expected ${types.join("|")}, got ${actual}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${at}: not in enum`);
  if (typeof value === "string") {
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) {
      out.push(`${at}: does not match ${schema.pattern}`);
    }
    if (typeof schema.minLength === "number" && value.length < schema.minLength) out.push(`${at}: too short`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(`${at}: below minimum`);
    if (typeof schema.maximum === "number" && value > schema.maximum) out.push(`${at}: above maximum`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum)
      out.push(`${at}: too small`);
  }
  if (Array.isArray(value) && schema.items) {
    for (const [i, item] of value.entries())
      out.push(...violations(schema.items as Schema, item, `${at}[${i}]`));
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const req of (schema.required ?? []) as string[])
      if (!(req in value)) out.push(`${at}.${req}: required`);
    for (const [k, v] of Object.entries(value)) {
      if (props[k]) out.push(...violations(props[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}.${k}: additional property`);
      else if (typeof schema.additionalProperties === "object") {
        out.push(...violations(schema.additionalProperties as Schema, v, `${at}.${k}`));
      }
      if (schema.propertyNames)
        out.push(...violations(schema.propertyNames as Schema, k, `${at}.${k}(name)`));
    }
  }
  return out;
}

/** Every property schema anywhere in the tree, with its JSON path. */
function* properties(schema: Schema, at = "$"): Generator<[string, Schema]> {
  for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    yield [`${at}.${k}`, v];
    yield* properties(v, `${at}.${k}`);
  }
  if (schema.items) yield* properties(schema.items as Schema, `${at}[]`);
  for (const branch of (schema.anyOf ?? []) as Schema[]) yield* properties(branch, at);
}

describe("configJsonSchema", () => {
  const schema = configJsonSchema();

  it("is plain JSON with $schema, title and a description on every key", () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.title).toBe("runtime-matrix configuration (rmx.yaml)");
    expect(schema.type).toBe("object");
    expect(schema.additionalProperties).toBe(false);
    const all = [...properties(schema)];
    expect(all.length).toBeGreaterThan(80);
    const undocumented = all.filter(([, s]) => typeof s.description !== "string" || s.description === "");
    expect(undocumented.map(([p]) => p)).toEqual([]);
  });

  it("carries required keys and enums", () => {
    const props = schema.properties as Record<string, Schema>;
    const runtime = (props.runtimes as Schema).items as Schema;
    expect(runtime.required).toEqual(["id", "adapter"]);
    const rp = runtime.properties as Record<string, Schema>;
    expect(rp.adapter?.enum).toEqual([
      "llama.cpp",
      "llama-stub",
      "command",
      "remote",
      "whisper.cpp",
      "vllm",
      "onnxruntime",
    ]);
    expect((props.log_level as Schema).enum).toEqual(["trace", "debug", "info", "warn", "error", "fatal"]);
    const schedule = (props.schedule as Schema).items as Schema;
    expect(schedule.required).toEqual(["id", "cron", "action", "runtime"]);
    expect(((schedule.properties as Record<string, Schema>).action as Schema).enum).toEqual([
      "start",
      "stop",
      "restart",
    ]);
    expect(((props.models as Schema).items as Schema).required).toEqual(["id", "path"]);
  });

  it("the documented example and the embedded default validate against it", async () => {
    const example = parseYaml(await readFile(path.join(here, "example.yaml"), "utf8"));
    expect(violations(schema, example)).toEqual([]);
    expect(violations(schema, parseYaml(embeddedConfigText))).toEqual([]);
    expect(
      violations(schema, {
        runtimes: [
          { id: "a", adapter: "command", binary: "/x", sandbox: { kind: "systemd-run", memory_max: "8GB" } },
        ],
      }),
    ).toEqual([]);
  });

  it("rejects what the daemon rejects structurally: typos, missing keys, bad enums, bad durations", () => {
    expect(
      violations(schema, { runtimes: [{ id: "a", adapter: "llama-stub", restart_bugdet: {} }] }),
    ).toEqual(["$.runtimes[0].restart_bugdet: additional property"]);
    expect(violations(schema, { runtimes: [{ adapter: "llama-stub" }] })).toEqual([
      "$.runtimes[0].id: required",
    ]);
    expect(violations(schema, { log_level: "verbose" })).toEqual(["$.log_level: not in enum"]);
    expect(violations(schema, { telemetry: { health_interval: "5 seconds" } })).toHaveLength(1);
    expect(violations(schema, { runtimes: [{ id: "a", adapter: "x", hardware: "tpu" }] })).toHaveLength(2);
  });
});
