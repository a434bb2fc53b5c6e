/**
 * What the gateway needs of the daemon: routing through the matrix, waking runtimes and counting requests
 * exactly like `chat.respond` (policy's `serving()` provides it), the catalog for model aliases, and a log.
 */
import type { Logger } from "pino";
import type { ModelEntry } from "../models/catalog.js";
import type { RuntimePlace } from "../policy/candidates.js";
import type { Candidate, ResolveRequest } from "../policy/resolve.js";
import type { Routed } from "../policy/routing.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";

export interface GatewayRouting {
  route(req: ResolveRequest): Routed;
  candidates(): Candidate[];
  runtime(id: string): RuntimeSupervisor | undefined;
  placeOf(rt: RuntimeSupervisor): RuntimePlace;
  /** Starts an idle runtime and waits until it is ready; throws TIMEOUT or BACKEND_FAILED. */
  ensureReady(rt: RuntimeSupervisor, deadline: number, startStopped?: boolean): Promise<void>;
  /** The runtime is busy (never idled, never swapped out) until the returned function runs. */
  begin(runtimeId: string): () => void;
  /** Counted like chat.respond: routing's p95 and the node entry's `http` block. */
  record(cellKey: string, ms: number, ok: boolean, route?: string): void;
  now(): number;
}

export interface GatewayHost {
  readonly logger: Logger;
  readonly routing: GatewayRouting;
  lookupModel(idOrPath: string): ModelEntry | undefined;
  /** The gateway changed what `runtime.status` shows (a request was counted). */
  onCounted(): void;
}
