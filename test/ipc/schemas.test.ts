import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { describeParamsError } from "../../ipc/protocol/params-error.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";

function fail(method: keyof typeof paramSchemas, input: unknown): { message: string; paths: string[] } {
  const result = paramSchemas[method].safeParse(input);
  expect(result.success).toBe(false);
  const { message, issues } = describeParamsError(result.error as z.ZodError, input);
  return { message, paths: issues.map((i) => i.path) };
}

describe("paramSchemas", () => {
  it("covers every method of the protocol", () => {
    expect(Object.keys(paramSchemas).sort()).toEqual([
      "chat.respond",
      "config.reload",
      "daemon.hello",
      "dashboard.login",
      "events.subscribe",
      "events.unsubscribe",
      "hardware.get",
      "http.token",
      "infer.respond",
      "lease.acquire",
      "lease.list",
      "lease.release",
      "lease.renew",
      "matrix.get",
      "models.inspect",
      "models.list",
      "pin.clear",
      "pin.list",
      "pin.set",
      "policy.get",
      "policy.set",
      "runtime.logs",
      "runtime.reload",
      "runtime.resolve",
      "runtime.restore",
      "runtime.start",
      "runtime.status",
      "runtime.stop",
      "runtime.switch",
      "transcribe.respond",
    ]);
  });

  it("applies the documented defaults", () => {
    expect(paramSchemas["runtime.restore"].parse({ id: "a" })).toEqual({
      id: "a",
      restart: true,
      reset_budget: false,
      wait: false,
    });
    expect(paramSchemas["runtime.logs"].parse({ id: "a" })).toEqual({ id: "a", lines: 100, follow: false });
    expect(paramSchemas["runtime.start"].parse({ id: "a", timeout_ms: 500 })).toEqual({
      id: "a",
      wait: false,
      timeout_ms: 500,
    });
    expect(paramSchemas["daemon.hello"].parse({})).toEqual({});
  });

  it("names the field and the expected type", () => {
    expect(fail("runtime.restore", { id: 3 }).message).toBe("params.id: expected string, received number");
    expect(fail("runtime.restore", {}).message).toBe("params.id: expected string, but it is missing");
    expect(fail("runtime.restore", { id: "a", wait: "yes" }).message).toBe(
      "params.wait: expected boolean, received string",
    );
    expect(fail("runtime.status", [1]).message).toBe("params: expected object, received array");
  });

  it("rejects unknown keys by name (strict)", () => {
    expect(fail("runtime.restore", { id: "a", reset_buget: true }).message).toBe(
      'params: unknown key "reset_buget"',
    );
    expect(fail("daemon.hello", { a: 1, b: 2 }).message).toBe('params: unknown keys "a", "b"');
  });

  it("bounds logs lines to 0..10000 (0: follow only) and timeouts to positive integers", () => {
    expect(fail("runtime.logs", { id: "a", lines: -1 }).message).toBe("params.lines: must be >= 0");
    expect(fail("runtime.logs", { id: "a", lines: 10_001 }).message).toBe("params.lines: must be <= 10000");
    expect(fail("runtime.logs", { id: "a", lines: 1.5 }).paths).toEqual(["params.lines"]);
    expect(paramSchemas["runtime.logs"].parse({ id: "a", lines: 10_000 })).toMatchObject({ lines: 10_000 });
    expect(fail("runtime.stop", { id: "a", timeout_ms: -1 }).paths).toEqual(["params.timeout_ms"]);
    expect(fail("runtime.stop", { id: "" }).message).toBe("params.id: must not be empty");
  });

  it("wants 1..32 non-empty topics", () => {
    expect(fail("events.subscribe", { topics: [] }).message).toBe(
      "params.topics: must have at least 1 item(s)",
    );
    expect(fail("events.subscribe", { topics: ["a", ""] }).message).toBe(
      "params.topics[1]: must not be empty",
    );
    const many = Array.from({ length: 33 }, (_, i) => `t${i}`);
    expect(fail("events.subscribe", { topics: many }).message).toBe(
      "params.topics: must have at most 32 item(s)",
    );
    expect(paramSchemas["events.subscribe"].parse({ topics: many.slice(0, 32) })).toEqual({
      topics: many.slice(0, 32),
    });
  });

  it("lists at most three issues in the message and all of them in the data", () => {
    const input = { id: 1, restart: 1, reset_budget: 1, wait: 1, extra: 1 };
    const result = paramSchemas["runtime.restore"].safeParse(input);
    const { message, issues } = describeParamsError(result.error as z.ZodError, input);
    expect(issues).toHaveLength(5);
    expect(message.split("; ")).toHaveLength(4);
    expect(message).toMatch(/and 2 more$/);
  });

  it("property: any JSON value either parses or fails with a message starting with a params path", () => {
    const methods = Object.keys(paramSchemas) as Array<keyof typeof paramSchemas>;
    fc.assert(
      fc.property(fc.constantFrom(...methods), fc.jsonValue(), (method, input) => {
        const result = paramSchemas[method].safeParse(input);
        if (result.success) return;
        const { message, issues } = describeParamsError(result.error, input);
        expect(issues.length).toBeGreaterThan(0);
        expect(message).toMatch(/^params[.[:]/);
      }),
    );
  });
});
