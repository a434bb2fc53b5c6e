/** What `runtime.status` shows of the HTTP gateway (`node.http.gateway`). */

export type ErrorClass = "auth" | "client" | "not_found" | "unavailable" | "upstream" | "timeout" | "aborted";

/**
 * Requests routed to a series (one model, cell and route in `runtime.status`; a whole cell in
 * `matrix.get`): counts since the series appeared, percentiles over the last 5 minutes' successes.
 */
export interface CellRequestTelemetry {
  total: number;
  errors: number;
  error_rate: number;
  errors_by_class?: Partial<Record<ErrorClass, number>>;
  p50_ms?: number;
  p95_ms?: number;
  /** Time to the first byte of the answer (for streams: the first token). */
  ttft_p50_ms?: number;
  ttft_p95_ms?: number;
  /** The p95 is at or over the slow-route threshold (1500 ms); `slow_reason` says by how much. */
  slow?: true;
  slow_reason?: string;
}

export interface GatewaySeriesView extends CellRequestTelemetry {
  model: string;
  cell: string;
  route: string;
}

export interface GatewayView {
  listen?: string;
  auth: "token" | "none";
  /** Why the gateway is not listening though configured (e.g. the port was in use). */
  problem?: string;
  in_flight: number;
  requests: GatewaySeriesView[];
}
