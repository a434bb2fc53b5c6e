/** What `runtime.status` shows of the HTTP gateway (`node.http.gateway`). */

export type ErrorClass = "auth" | "client" | "not_found" | "unavailable" | "upstream" | "timeout" | "aborted";

export interface GatewaySeriesView {
  model: string;
  cell: string;
  route: string;
  total: number;
  errors: number;
  error_rate: number;
  errors_by_class?: Partial<Record<ErrorClass, number>>;
  p50_ms?: number;
  p95_ms?: number;
  /** Time to the first byte of the answer (for streams: the first token). */
  ttft_p50_ms?: number;
  ttft_p95_ms?: number;
}

export interface GatewayView {
  listen?: string;
  auth: "token" | "none";
  /** Why the gateway is not listening though configured (e.g. the port was in use). */
  problem?: string;
  in_flight: number;
  requests: GatewaySeriesView[];
}
