/**
 * The socket server's wire limits as `ipc.*` config keys: defaults equal the server's own DEFAULT_LIMITS,
 * values resolve to the daemon's IpcSpec (durations in ms), out-of-range values are refused with
 * `file:line:col: key`, and the JSON Schema carries the bounds.
 */
import { describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import { configJsonSchema } from "../../config/json-schema.js";
import { parseConfigText } from "../../config/load.js";
import { DEFAULT_LIMITS } from "../../ipc/server/types.js";

const parse = (text: string) => parseConfigText(text, "rmx.yaml", "/etc/rmx", { home: "/home/t" });

function firstIssue(text: string): string {
  try {
    parse(text);
  } catch (err) {
    if (!isRmxError(err, "CONFIG_INVALID")) throw err;
    return err.message.split("\n")[0] as string;
  }
  throw new Error("expected the config to be refused");
}

// biome-ignore lint/suspicious/noExplicitAny: walking an untyped JSON Schema
type Node = any;

describe("ipc wire limits in the config", () => {
  it("defaults to the socket server's own limits", () => {
    expect(parse("{}").ipc).toMatchObject({
      max_unsent_per_connection: DEFAULT_LIMITS.maxOutboundBytes,
      max_unsent_total: DEFAULT_LIMITS.maxTotalOutboundBytes,
      line_timeout_ms: DEFAULT_LIMITS.partialLineTimeoutMs,
      idle_timeout_ms: DEFAULT_LIMITS.idleTimeoutMs,
      max_batch: DEFAULT_LIMITS.maxBatch,
      max_json_depth: DEFAULT_LIMITS.maxJsonDepth,
    });
  });

  it("resolves sizes to bytes and durations to milliseconds", () => {
    const { ipc } = parse(
      "ipc: { max_unsent_per_connection: 2MB, max_unsent_total: 1GB, line_timeout: 2s, idle_timeout: 5m, max_batch: 10, max_json_depth: 32 }",
    );
    expect(ipc).toEqual({
      max_connections: 2048,
      max_line_bytes: 1024 * 1024,
      subscriber_queue: 1000,
      max_unsent_per_connection: 2 * 1024 ** 2,
      max_unsent_total: 1024 ** 3,
      line_timeout_ms: 2000,
      idle_timeout_ms: 300_000,
      max_batch: 10,
      max_json_depth: 32,
    });
  });

  it.each([
    [
      "ipc: { max_unsent_per_connection: 1KB }",
      'rmx.yaml:1:8: ipc.max_unsent_per_connection: expected a size from 64KB to 1GB, got "1KB"',
    ],
    [
      "ipc: { max_unsent_total: 32GB }",
      'rmx.yaml:1:8: ipc.max_unsent_total: expected a size from 64KB to 16GB, got "32GB"',
    ],
    [
      "ipc: { line_timeout: 10ms }",
      'rmx.yaml:1:8: ipc.line_timeout: expected a duration from 100ms to 1d, got "10ms"',
    ],
    [
      "ipc: { idle_timeout: 30d }",
      'rmx.yaml:1:8: ipc.idle_timeout: expected a duration from 100ms to 1d, got "30d"',
    ],
    ["ipc: { max_batch: 0 }", "rmx.yaml:1:8: ipc.max_batch: expected a positive integer, got 0"],
    [
      "ipc: { max_json_depth: 4 }",
      "rmx.yaml:1:8: ipc.max_json_depth: expected an integer from 8 to 1000, got 4",
    ],
  ])("refuses %s", (text, message) => {
    expect(firstIssue(text)).toBe(message);
  });

  it("accepts the bounds themselves", () => {
    expect(() =>
      parse(
        "ipc: { max_unsent_per_connection: 64KB, max_unsent_total: 16GB, line_timeout: 100ms, idle_timeout: 1d, max_batch: 100000, max_json_depth: 8 }",
      ),
    ).not.toThrow();
  });

  it("publishes the bounds in the JSON Schema", () => {
    const ipc = (configJsonSchema() as { properties: Record<string, Node> }).properties.ipc.properties;
    const numberBranch = (node: Node) =>
      (node.anyOf ?? [node]).find((b: Node) => b.type === "number" || b.type === "integer");
    expect(numberBranch(ipc.max_unsent_per_connection)).toMatchObject({
      minimum: 64 * 1024,
      maximum: 1024 ** 3,
    });
    expect(numberBranch(ipc.max_unsent_total)).toMatchObject({ minimum: 64 * 1024, maximum: 16 * 1024 ** 3 });
    expect(numberBranch(ipc.line_timeout)).toMatchObject({ minimum: 100, maximum: 86_400_000 });
    expect(numberBranch(ipc.idle_timeout)).toMatchObject({ minimum: 100, maximum: 86_400_000 });
    expect(numberBranch(ipc.max_batch)).toMatchObject({ minimum: 1, maximum: 100_000 });
    expect(numberBranch(ipc.max_json_depth)).toMatchObject({ minimum: 8, maximum: 1000 });
  });
});
