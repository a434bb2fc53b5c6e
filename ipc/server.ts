/**
 * The daemon's socket: JSON-RPC 2.0 over newline-delimited JSON on node:net (a Unix socket path, or a
 * Windows named pipe). Nothing a client sends can crash it; a slow client never slows the others.
 * The parts: server/socket-file.ts (the file), server/connection.ts (framing, queues, per-connection
 * limits), server/dispatch.ts (JSON-RPC); this module wires them and owns event subscriptions.
 */
import net from "node:net";
import type { ZodType } from "zod";
import { ErrorCodes } from "../base/errors.js";
import type { SubscribeResult } from "./protocol/events.js";
import { RpcErrors } from "./protocol/jsonrpc.js";
import type { SubscribeParams } from "./protocol/methods.js";
import { paramSchemas } from "./protocol/schemas.js";
import { RpcCallError } from "./rpc-error.js";
import { Connection, type ConnectionHost, endAndDestroy } from "./server/connection.js";
import { Dispatcher, type MaybePromise } from "./server/dispatch.js";
import { OutputBudget } from "./server/output-budget.js";
import { SocketFile } from "./server/socket-file.js";
import {
  type CallContext,
  DEFAULT_LIMITS,
  type MethodDef,
  type RpcServerLogger,
  type RpcServerOptions,
  type WireLimits,
} from "./server/types.js";
import { encodeResponse, errorResponse, wireError } from "./server/wire.js";

export type {
  CallContext,
  MethodDef,
  MethodTable,
  RpcServerLogger,
  RpcServerOptions,
  ServerEventSource,
  WireEvent,
  WireLimits,
} from "./server/types.js";
export { DEFAULT_LIMITS } from "./server/types.js";
export { PreEncoded } from "./server/wire.js";

const MAX_SUBSCRIPTIONS_PER_CONNECTION = 256;

const silentLogger: RpcServerLogger = { warn() {}, info() {}, debug() {} };

export class RpcServer implements ConnectionHost {
  readonly log: RpcServerLogger;
  readonly budget: OutputBudget;
  private readonly dispatcher: Dispatcher;
  private readonly limits: WireLimits;
  private readonly conns = new Map<number, Connection>();
  private readonly socketFile: SocketFile;
  private server: net.Server | undefined;
  private nextConnectionId = 1;
  private nextSubscriptionId = 1;
  private stopping = false;

  constructor(private readonly opts: RpcServerOptions) {
    this.log = opts.logger ?? silentLogger;
    this.limits = {
      maxLineBytes: opts.maxLineBytes,
      subscriberQueue: opts.subscriberQueue,
      maxOutboundBytes: opts.maxOutboundBytes ?? DEFAULT_LIMITS.maxOutboundBytes,
      maxTotalOutboundBytes: opts.maxTotalOutboundBytes ?? DEFAULT_LIMITS.maxTotalOutboundBytes,
      maxBatch: opts.maxBatch ?? DEFAULT_LIMITS.maxBatch,
      maxJsonDepth: opts.maxJsonDepth ?? DEFAULT_LIMITS.maxJsonDepth,
      partialLineTimeoutMs: opts.partialLineTimeoutMs ?? DEFAULT_LIMITS.partialLineTimeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_LIMITS.idleTimeoutMs,
    };
    this.budget = new OutputBudget(this.limits.maxTotalOutboundBytes);
    this.dispatcher = new Dispatcher(this.log, this.limits);
    this.socketFile = new SocketFile({
      socketPath: opts.socketPath,
      system: opts.system ?? false,
      ...(opts.socketGroup !== undefined ? { socketGroup: opts.socketGroup } : {}),
      backlog: Math.min(Math.max(opts.maxConnections, 511), 4096),
      log: this.log,
    });
    const methods = this.dispatcher.methods;
    for (const [name, def] of Object.entries(opts.methods)) methods.set(name, def);
    methods.set("events.subscribe", {
      params: paramSchemas["events.subscribe"] as ZodType<SubscribeParams>,
      handler: (params: SubscribeParams, ctx: CallContext) => this.subscribe(params, ctx),
    } satisfies MethodDef<SubscribeParams>);
    methods.set("events.unsubscribe", {
      params: paramSchemas["events.unsubscribe"] as ZodType<{ subscription: string }>,
      handler: (params: { subscription: string }, ctx: CallContext) => {
        const conn = this.conns.get(ctx.connectionId);
        const off = conn?.subscriptions.get(params.subscription);
        if (off === undefined) return { subscription: params.subscription, removed: false };
        off();
        conn!.subscriptions.delete(params.subscription);
        return { subscription: params.subscription, removed: true };
      },
    });
  }

  get connections(): number {
    return this.conns.size;
  }

  get socketPath(): string {
    return this.opts.socketPath;
  }

  /** Every method this server answers, sorted (for `daemon.hello`). */
  get methodNames(): string[] {
    return [...this.dispatcher.methods.keys()].sort();
  }

  /** What the connections hold right now: unsent output and unfinished input lines, in bytes. */
  get held(): { outboundBytes: number; outboundPeakBytes: number; inboundBytes: number } {
    let outboundBytes = 0;
    let inboundBytes = 0;
    for (const conn of this.conns.values()) {
      outboundBytes += conn.pendingBytes();
      inboundBytes += conn.bufferedInput;
    }
    return { outboundBytes, outboundPeakBytes: this.budget.peak, inboundBytes };
  }

  async listen(): Promise<void> {
    if (this.server !== undefined) throw new Error("RpcServer.listen called twice");
    const server = net.createServer((socket) => this.accept(socket));
    server.on("error", (error) => this.log.warn({ err: String(error) }, "socket server error"));
    this.server = server;
    try {
      await this.socketFile.bind(server);
    } catch (error) {
      this.server = undefined;
      throw error;
    }
  }

  private accept(socket: net.Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const { maxConnections } = this.opts;
    if (this.conns.size >= maxConnections) {
      socket.on("error", () => {});
      socket.resume();
      const refusal = errorResponse(
        null,
        wireError(ErrorCodes.TOO_MANY_CONNECTIONS.rpc, `too many connections (limit ${maxConnections})`, {
          code: "TOO_MANY_CONNECTIONS",
          limit: maxConnections,
        }),
      );
      endAndDestroy(socket, `${encodeResponse(refusal)}\n`);
      this.log.warn({ limit: maxConnections }, "connection refused: too many connections");
      return;
    }
    const id = this.nextConnectionId++;
    this.conns.set(id, new Connection(id, socket, this, this.limits));
  }

  /** @internal */
  answerLine(line: string, ctx: CallContext): MaybePromise<string | null> {
    return this.dispatcher.answerLine(line, ctx);
  }

  /** @internal */
  forget(conn: Connection): void {
    this.conns.delete(conn.id);
  }

  private subscribe(params: SubscribeParams, ctx: CallContext): SubscribeResult {
    const conn = this.conns.get(ctx.connectionId);
    if (conn === undefined || conn.closed) throw new Error("connection closed");
    if (conn.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new RpcCallError(
        RpcErrors.INVALID_REQUEST,
        `too many subscriptions on this connection (limit ${MAX_SUBSCRIPTIONS_PER_CONNECTION})`,
        { limit: MAX_SUBSCRIPTIONS_PER_CONNECTION },
      );
    }
    const topics = [...new Set(params.topics)];
    const subscription = `sub-${this.nextSubscriptionId++}`;
    const off = this.opts.bus.subscribe(topics, (event) => conn.sendEvent(subscription, event));
    conn.subscriptions.set(subscription, off);
    return { subscription, topics };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined || this.stopping) return;
    this.stopping = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const conn of this.conns.values()) conn.closeWith();
    await closed;
    this.server = undefined;
    await this.socketFile.unlink();
  }
}
