/**
 * A cell's routed-request telemetry for the dashboard, when `matrix.get` carries it (`cell.requests`, fed by the
 * gateway): request count, error rate, latency and time-to-first-token percentiles. Optional on the wire, so
 * only the numeric fields present are passed on; a cell without it shows the probes' error rate instead.
 */
import type { MatrixCell } from "../../../ipc/protocol/matrix.js";

export interface CellTraffic {
  total?: number;
  errors?: number;
  error_rate?: number;
  p50_ms?: number;
  p95_ms?: number;
  ttft_p50_ms?: number;
  ttft_p95_ms?: number;
}

const FIELDS = ["total", "errors", "error_rate", "p50_ms", "p95_ms", "ttft_p50_ms", "ttft_p95_ms"] as const;

export function cellTraffic(cell: MatrixCell): { traffic?: CellTraffic } {
  const requests = (cell as { requests?: unknown }).requests;
  if (typeof requests !== "object" || requests === null) return {};
  const traffic: CellTraffic = {};
  for (const field of FIELDS) {
    const value = (requests as Record<string, unknown>)[field];
    if (typeof value === "number" && Number.isFinite(value)) traffic[field] = value;
  }
  return Object.keys(traffic).length > 0 ? { traffic } : {};
}
