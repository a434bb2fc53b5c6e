/**
 * The dashboard's snapshot passes on each cell's tokens/s and error rate, and the gateway's per-cell request
 * telemetry (`cell.requests` of `matrix.get`) when a cell carries it: numeric fields only, absent otherwise.
 */
import { describe, expect, it } from "vitest";
import type { ObservabilityHost } from "../../daemon/http/observability-host.js";
import { dashboardState } from "../../daemon/http/routes.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";

const STATUS = {
  generated: "2026-01-01T00:00:00.000Z",
  summary: { ready: 0, total: 0, attention_required: false },
  runtimes: [],
  problems: [],
} as unknown as RuntimeStatusResult;

function cell(key: string, extra: Record<string, unknown>): MatrixCell {
  return {
    key,
    model: "m",
    hardware: "cpu",
    sandbox: "none",
    available: true,
    runtimes: ["a"],
    status: { code: "ready" },
    health: { window_seconds: 60, requests: 10, errors: 1, error_rate: 0.1 },
    throughput: { generated_tokens_per_second: 12.5 },
    load: { leases_held: 0, lease_capacity: 1 },
    ...extra,
  } as unknown as MatrixCell;
}

function host(cells: MatrixCell[]): ObservabilityHost {
  return { nodeId: () => "n", status: () => STATUS, cells: () => cells } as unknown as ObservabilityHost;
}

describe("dashboard state of a cell", () => {
  it("carries tokens/s, the probes' error rate, and the gateway's request telemetry when present", () => {
    const state = dashboardState(
      host([
        cell("plain@cpu/none", {}),
        cell("routed@cpu/none", {
          requests: {
            total: 40,
            errors: 2,
            error_rate: 0.05,
            p50_ms: 12,
            p95_ms: 80,
            ttft_p50_ms: 30,
            note: "x",
          },
        }),
      ]),
      (iso) => iso,
    );
    const [plain, routed] = state.cells;
    expect(plain).toMatchObject({ tokens_per_second: 12.5, error_rate: 0.1 });
    expect(plain).not.toHaveProperty("traffic");
    expect(routed?.traffic).toEqual({
      total: 40,
      errors: 2,
      error_rate: 0.05,
      p50_ms: 12,
      p95_ms: 80,
      ttft_p50_ms: 30,
    });
  });
});
