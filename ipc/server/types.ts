/** What the socket server offers handlers and needs from its host; nothing here imports the daemon. */
import type { ZodType } from "zod";

export interface CallContext {
  connectionId: number;
  /** Sends a notification on this connection. Never dropped; a peer that stops reading is cut off at the hard cap. */
  notify(method: string, params: unknown): void;
  /** Runs when the connection closes (at once if it already has). */
  onClose(cb: () => void): void;
  /**
   * Aborted when the connection closes, so work done for this caller (a lease waiter, a chat) can stop
   * with it. `signal.reason` is an Error naming the connection.
   */
  signal: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: each handler is typed by its own params schema
export interface MethodDef<P = any> {
  params: ZodType<P>;
  handler: (params: P, ctx: CallContext) => Promise<unknown> | unknown;
}

export type MethodTable = Record<string, MethodDef>;

export interface RpcServerLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** One event as the server forwards it to subscribers. */
export interface WireEvent {
  readonly topic: string;
  readonly seq: number;
  readonly time: string;
  readonly payload: unknown;
}

/** The one thing the server needs from an event bus (the daemon's EventBus satisfies it). */
export interface ServerEventSource {
  subscribe(patterns: readonly string[], listener: (event: WireEvent) => void): () => void;
}

/** Limits on one connection's traffic; every field has a documented default (see DEFAULT_LIMITS). */
export interface WireLimits {
  maxLineBytes: number;
  /** Event notifications queued for a connection that is not draining before the oldest are dropped. */
  subscriberQueue: number;
  /** A connection whose unsent output exceeds this is cut off. */
  maxOutboundBytes: number;
  /** Unsent output across all connections; past it the connection with the largest backlog is cut off. */
  maxTotalOutboundBytes: number;
  /** Calls in one batch; the rest are each answered with BATCH_TOO_LARGE. */
  maxBatch: number;
  /** Arrays/objects nested inside one another in one message. */
  maxJsonDepth: number;
  /** A line started but not finished within this is answered with LINE_TIMEOUT and the connection closed. */
  partialLineTimeoutMs: number;
  /** A connection with no request in flight, no subscription and nothing pending for this long is closed. */
  idleTimeoutMs: number;
}

export { DEFAULT_LIMITS } from "../../base/wire-limits.js";

export interface RpcServerOptions extends Partial<Omit<WireLimits, "maxLineBytes" | "subscriberQueue">> {
  socketPath: string;
  system?: boolean;
  socketGroup?: string;
  maxConnections: number;
  maxLineBytes: number;
  subscriberQueue: number;
  methods: MethodTable;
  bus: ServerEventSource;
  logger?: RpcServerLogger;
}
