/**
 * Every number, size and duration in rmx.yaml has a minimum and a maximum: values that used to break the
 * daemon (a 0-byte line limit, 0-byte log files, 30-day timers that Node runs after 1 ms, a 1TB line) are
 * refused at load with `file:line:col: key`, and the JSON Schema carries the same bounds.
 */
import { describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import { configJsonSchema } from "../../config/json-schema.js";
import { parseConfigText } from "../../config/load.js";

function firstIssue(text: string): string {
  try {
    parseConfigText(text, "rmx.yaml", "/etc/rmx", { home: "/home/t" });
  } catch (err) {
    if (!isRmxError(err, "CONFIG_INVALID")) throw err;
    return err.message.split("\n")[0] as string;
  }
  throw new Error("expected the config to be refused");
}

// biome-ignore lint/suspicious/noExplicitAny: walking an untyped JSON Schema
type Node = any;

const rt = (block: string) => `runtimes:\n  - id: a\n    adapter: llama-stub\n    ${block}\n`;

describe("config ranges", () => {
  it.each([
    [
      "ipc: { max_line_bytes: 0 }",
      "rmx.yaml:1:8: ipc.max_line_bytes: expected a size from 1KB to 256MB, got 0",
    ],
    [
      "ipc: { max_line_bytes: 1TB }",
      'rmx.yaml:1:8: ipc.max_line_bytes: expected a size from 1KB to 256MB, got "1TB"',
    ],
    [
      rt("logs: { max_bytes: 0 }"),
      "rmx.yaml:4:13: runtimes[0].logs.max_bytes: expected a size from 64KB to 1TB, got 0",
    ],
    [
      rt("health: { interval: 30d }"),
      'rmx.yaml:4:15: runtimes[0].health.interval: expected a duration from 1ms to 1d, got "30d"',
    ],
    [
      rt("stop: { grace: 30d }"),
      'rmx.yaml:4:13: runtimes[0].stop.grace: expected a duration from 0ms to 1d, got "30d"',
    ],
    [
      rt("idle_ttl: 2592000000"),
      "rmx.yaml:4:5: runtimes[0].idle_ttl: expected a duration from 1ms to 1d, got 2592000000",
    ],
    [rt("port: 0"), "rmx.yaml:4:5: runtimes[0].port: expected a port number (1-65535), got 0"],
    [rt("slots: 0"), "rmx.yaml:4:5: runtimes[0].slots: expected a positive integer, got 0"],
    [rt("slots: 5000"), "rmx.yaml:4:5: runtimes[0].slots: expected an integer from 1 to 1024, got 5000"],
    [
      "ipc: { subscriber_queue: 0 }",
      "rmx.yaml:1:8: ipc.subscriber_queue: expected a positive integer, got 0",
    ],
    [
      rt("restart_budget: { window_seconds: 2592000 }"),
      "rmx.yaml:4:23: runtimes[0].restart_budget.window_seconds: expected an integer from 1 to 86400, got 2592000",
    ],
    [
      "telemetry: { sample_interval: 25h }",
      'rmx.yaml:1:14: telemetry.sample_interval: expected a duration from 1ms to 1d, got "25h"',
    ],
  ])("refuses %s", (text, message) => {
    expect(firstIssue(text)).toBe(message);
  });

  it("accepts the bounds themselves", () => {
    expect(() =>
      parseConfigText(
        `ipc: { max_line_bytes: 1KB, subscriber_queue: 1 }\n${rt("logs: { max_bytes: 64KB }\n    health: { interval: 24h }\n    stop: { grace: 0ms }")}`,
        "rmx.yaml",
        "/etc/rmx",
        { home: "/home/t" },
      ),
    ).not.toThrow();
  });

  it("publishes every numeric bound in the JSON Schema", () => {
    const schema = configJsonSchema() as { properties: Record<string, Node> };
    const ipc = schema.properties.ipc.properties;
    const numberBranch = (node: Node) =>
      (node.anyOf ?? [node]).find((b: Node) => b.type === "number" || b.type === "integer");
    expect(numberBranch(ipc.max_line_bytes)).toMatchObject({ minimum: 1024, maximum: 256 * 1024 ** 2 });
    expect(numberBranch(ipc.max_connections)).toMatchObject({ minimum: 1, maximum: 65_536 });
    // Every number anywhere in the schema has both bounds.
    const unbounded: string[] = [];
    const walk = (node: Node, at: string): void => {
      if (node === null || typeof node !== "object") return;
      if (
        (node.type === "number" || node.type === "integer") &&
        !((node.minimum !== undefined || node.exclusiveMinimum !== undefined) && node.maximum !== undefined)
      )
        unbounded.push(at);
      for (const [k, v] of Object.entries(node)) walk(v, `${at}.${k}`);
    };
    walk(schema, "$");
    expect(unbounded).toEqual([]);
  });
});
