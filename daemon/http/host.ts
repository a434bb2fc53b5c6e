/**
 * What the gateway needs of the daemon: routing through the matrix, waking runtimes and counting requests
 * exactly like `chat.respond` (policy's `serving()` provides it), the catalog for model aliases, and a log.
 */
import type { Logger } from "pino";
import type { GatewaySeriesView } from "../../ipc/protocol/gateway.js";
import type { ModelEntry } from "../../ipc/protocol/models.js";
import type { RuntimePlace } from "../policy/candidates.js";
import type { ObservedRequest } from "../policy/request-stats.js";
import type { Candidate, ResolveRequest } from "../policy/resolve.js";
import type { Routed } from "../policy/routing.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import type { Route } from "./observability-host.js";

export interface GatewayRouting {
  route(req: ResolveRequest): Routed;
  candidates(): Candidate[];
  runtime(id: string): RuntimeSupervisor | undefined;
  placeOf(rt: RuntimeSupervisor): RuntimePlace;
  /** Starts an idle runtime and waits until it is ready; throws TIMEOUT or BACKEND_FAILED. */
  ensureReady(rt: RuntimeSupervisor, deadline: number, startStopped?: boolean): Promise<void>;
  /** The runtime is busy (never idled, never swapped out) until the returned function runs. */
  begin(runtimeId: string): () => void;
  /**
   * The one record of a request the gateway answered (per cell tried): its telemetry, routing's p95, the
   * node entry's `http` block and the Prometheus request series.
   */
  observe(request: ObservedRequest): void;
  /** The series of `runtime.status`'s `node.http.gateway.requests`. */
  telemetry(): GatewaySeriesView[];
  now(): number;
}

export interface GatewayHost {
  readonly logger: Logger;
  /**
   * More routes served on the gateway's listener (/metrics, the dashboard, /badge.svg), each with its auth
   * kind: `token` = the bearer token; `metrics` = the token unless `http.metrics_auth: none`; `session` and
   * `none` = no bearer (the route checks its own cookie/CSRF). The Host and Origin checks apply to all.
   */
  readonly routes?: readonly Route[];
  readonly routing: GatewayRouting;
  lookupModel(idOrPath: string): ModelEntry | undefined;
  /** The gateway changed what `runtime.status` shows (a request was counted). */
  onCounted(): void;
}
