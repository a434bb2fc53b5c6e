/**
 * What the observability routes need of the daemon, and the route table's shape. The gateway's HTTP
 * listener mounts the routes; `auth` names the check it applies before calling `handle`.
 */
import type http from "node:http";
import type { LlamaMetrics } from "../../adapters/types.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";
import type { RmxEvent } from "../events.js";

/**
 * token: the gateway's bearer token. metrics: the bearer token unless `http.metrics_auth: none`.
 * session: the dashboard's cookie session (daemon/http/session.ts; CSRF on POST). none: public.
 */
export type AuthKind = "token" | "metrics" | "session" | "none";

export interface Route {
  method: "GET" | "POST";
  path: string | RegExp;
  auth: AuthKind;
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}

/** The quick actions the dashboard offers: the socket methods of the same names, same param schemas. */
export const QUICK_ACTIONS = ["runtime.restore", "runtime.reload", "runtime.start", "runtime.stop"] as const;
export type QuickActionMethod = (typeof QUICK_ACTIONS)[number];

export interface ObservabilityHost {
  nodeId(): string;
  status(): RuntimeStatusResult;
  cells(): readonly MatrixCell[];
  /** The bus; the SSE route subscribes only while a client is connected. Returns the unsubscribe. */
  subscribe(patterns: readonly string[], listener: (event: RmxEvent) => void): () => void;
  /** The last `/metrics` sample the matrix scraped from each live llama runtime, by runtime id. */
  backendMetrics(): ReadonlyMap<string, LlamaMetrics>;
  /** Runs a quick action through the socket method's schema and handler; throws RmxError / RpcCallError. */
  action(method: QuickActionMethod, params: unknown): Promise<unknown>;
  /** The last `lines` lines of a runtime's log (RUNTIME_NOT_FOUND for an unknown id). */
  logsTail(id: string, lines: number): Promise<string[]>;
  /** Follows a runtime's log; returns the function that stops following. */
  logsFollow(id: string, onLine: (line: string) => void): () => void;
}
