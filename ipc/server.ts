/**
 * The daemon's socket: JSON-RPC 2.0 over newline-delimited JSON on node:net (a Unix socket path, or a
 * Windows named pipe). Nothing a client sends can crash it; a slow client never slows the others.
 */
import { chmod, chown, link, readFile, rename, stat, unlink } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import type { ZodType } from "zod";
import { ErrorCodes, RmxError } from "../base/errors.js";
import type { EventBus, RmxEvent } from "../daemon/events.js";
import { encodeMessage, LineDecoder } from "./framing.js";
import type {
  EventNotificationParams,
  JsonRpcErrorObject,
  JsonRpcResponse,
  LaggedNotificationParams,
  SubscribeParams,
  SubscribeResult,
} from "./protocol.js";
import { Notifications, RpcErrors } from "./protocol.js";
import { RpcCallError, toRpcError } from "./rpc-error.js";
import { describeParamsError, paramSchemas } from "./schemas.js";
import { isWindowsPipe, maxSocketPathBytes, prepareSocketDir, probeSocket } from "./socket-path.js";

export interface CallContext {
  connectionId: number;
  /** Sends a notification on this connection. Never dropped; a peer that stops reading is cut off at the hard cap. */
  notify(method: string, params: unknown): void;
  /** Runs when the connection closes (at once if it already has). */
  onClose(cb: () => void): void;
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

export interface RpcServerOptions {
  socketPath: string;
  system?: boolean;
  socketGroup?: string;
  maxConnections: number;
  maxLineBytes: number;
  /** Event notifications queued for a connection that is not draining before the oldest are dropped. */
  subscriberQueue: number;
  methods: MethodTable;
  bus: EventBus;
  logger?: RpcServerLogger;
  /** A connection whose unsent output exceeds this is destroyed. Default 64 MiB. */
  maxOutboundBytes?: number;
}

const DEFAULT_MAX_OUTBOUND_BYTES = 64 * 1024 * 1024;
const MAX_SUBSCRIPTIONS_PER_CONNECTION = 256;
/** How long a connection being closed may take to flush before it is destroyed. */
const CLOSE_FLUSH_MS = 2000;

const silentLogger: RpcServerLogger = { warn() {}, info() {}, debug() {} };

type RequestId = string | number | null;

function errorResponse(id: RequestId, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error };
}

function wireError(code: number, message: string, data?: JsonRpcErrorObject["data"]): JsonRpcErrorObject {
  return data === undefined ? { code, message } : { code, message, data };
}

function isValidId(id: unknown): id is RequestId {
  return id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

/**
 * A result already serialised to JSON by its handler (e.g. a snapshot shared by many callers): spliced
 * into the response as is, so a hot read is not serialised again per call.
 */
export class PreEncoded {
  constructor(readonly json: string) {}
  toJSON(): unknown {
    return JSON.parse(this.json);
  }
}

/** Encodes a response; a result JSON cannot represent (BigInt, cycles) becomes an internal error. */
function encodeResponse(response: JsonRpcResponse): string {
  try {
    if ("result" in response && response.result instanceof PreEncoded) {
      return `{"jsonrpc":"2.0","id":${JSON.stringify(response.id)},"result":${response.result.json}}`;
    }
    return JSON.stringify(response);
  } catch (error) {
    return JSON.stringify(
      errorResponse(
        response.id,
        wireError(RpcErrors.INTERNAL_ERROR, `internal error: result is not serializable (${String(error)})`, {
          code: "INTERNAL",
        }),
      ),
    );
  }
}

/**
 * An event's `topic, seq, time, payload` serialised once and shared by every subscriber's line (fan-out to
 * 100 subscribers must not stringify the payload 100 times). Keyed by the event object the bus hands to
 * every listener; `null` marks a payload that cannot be serialised.
 */
const eventBodies = new WeakMap<RmxEvent, string | null>();

function encodedEventBody(event: RmxEvent): string | null {
  let body = eventBodies.get(event);
  if (body === undefined) {
    try {
      const params: Omit<EventNotificationParams, "subscription"> = {
        topic: event.topic,
        seq: event.seq,
        time: event.time,
        payload: event.payload,
      };
      body = JSON.stringify(params).slice(1, -1);
    } catch {
      body = null;
    }
    eventBodies.set(event, body);
  }
  return body;
}

interface Outbound {
  line: string | null;
  bytes: number;
  /** Set for event notifications, the only messages that may be dropped. */
  subscription?: string;
}

/**
 * Half-closes, reading (and ignoring) until the peer closes its side too, so the peer sees a clean end
 * rather than a reset; a peer that never does is destroyed after a deadline.
 */
function endAndDestroy(socket: net.Socket, last?: string): void {
  const timer = setTimeout(() => socket.destroy(), CLOSE_FLUSH_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  socket.removeAllListeners("data");
  socket.on("data", () => {});
  socket.resume();
  if (last === undefined) socket.end();
  else socket.end(last);
}

class Connection {
  private readonly decoder: LineDecoder;
  private readonly queue: Outbound[] = [];
  private head = 0;
  private dropScan = 0;
  private queuedBytes = 0;
  private queuedEvents = 0;
  private queuedMessages = 0;
  private blocked = false;
  private readonly lagged = new Map<string, number>();
  readonly subscriptions = new Map<string, () => void>();
  private readonly closeCallbacks: Array<() => void> = [];
  private closing = false;
  closed = false;
  readonly ctx: CallContext;

  constructor(
    readonly id: number,
    private readonly socket: net.Socket,
    private readonly server: RpcServer,
    private readonly limits: { maxLineBytes: number; subscriberQueue: number; maxOutboundBytes: number },
  ) {
    this.decoder = new LineDecoder(limits.maxLineBytes);
    this.ctx = {
      connectionId: id,
      notify: (method, params) => this.sendNotification(method, params),
      onClose: (cb) => {
        if (this.closed) queueMicrotask(cb);
        else this.closeCallbacks.push(cb);
      },
    };
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.flush());
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.server.log.debug({ connection: id, err: error.code ?? error.message }, "connection error");
    });
    socket.on("close", () => this.onClosed());
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    const { lines, overflow } = this.decoder.push(chunk);
    for (const line of lines) this.handleLine(line);
    if (overflow) {
      const limit = this.limits.maxLineBytes;
      this.server.log.warn({ connection: this.id, limit }, "line too long; closing connection");
      this.closeWith(
        errorResponse(
          null,
          wireError(RpcErrors.INVALID_REQUEST, `line too long: a message may be at most ${limit} bytes`, {
            code: "LINE_TOO_LONG",
            limit,
          }),
        ),
      );
    }
  }

  private handleLine(line: string): void {
    if (this.closing || line.trim() === "") return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      this.sendResponse(
        errorResponse(null, wireError(RpcErrors.PARSE_ERROR, `parse error: ${(error as Error).message}`)),
      );
      return;
    }
    if (Array.isArray(message)) {
      void this.handleBatch(message);
      return;
    }
    void this.server.dispatch(message, this.ctx).then((response) => {
      if (response !== null) this.sendResponse(response);
    });
  }

  private async handleBatch(batch: unknown[]): Promise<void> {
    if (batch.length === 0) {
      this.sendResponse(
        errorResponse(null, wireError(RpcErrors.INVALID_REQUEST, "invalid request: empty batch")),
      );
      return;
    }
    const responses = await Promise.all(batch.map((message) => this.server.dispatch(message, this.ctx)));
    const answered = responses.filter((r): r is JsonRpcResponse => r !== null);
    if (answered.length > 0) this.enqueue(`[${answered.map(encodeResponse).join(",")}]\n`);
  }

  sendResponse(response: JsonRpcResponse): void {
    this.enqueue(`${encodeResponse(response)}\n`);
  }

  sendNotification(method: string, params: unknown): void {
    let line: string;
    try {
      line = encodeMessage({ jsonrpc: "2.0", method, params });
    } catch (error) {
      this.server.log.warn(
        { connection: this.id, method, err: String(error) },
        "notification not serializable",
      );
      return;
    }
    this.enqueue(line);
  }

  sendEvent(subscription: string, event: RmxEvent): void {
    if (this.closing) return;
    const body = encodedEventBody(event);
    // An unserialisable payload is the publisher's bug; skip it rather than break the subscriber.
    if (body === null) return;
    const line = `{"jsonrpc":"2.0","method":"${Notifications.EVENT}","params":{"subscription":${JSON.stringify(subscription)},${body}}}\n`;
    this.enqueue(line, subscription);
  }

  /** Writes at once while the socket drains; otherwise queues (dropping the oldest events past the limit). */
  private enqueue(line: string, subscription?: string): void {
    if (this.closing) return;
    if (!this.blocked) {
      this.write(line);
      return;
    }
    const entry: Outbound = { line, bytes: Buffer.byteLength(line) };
    if (subscription !== undefined) {
      entry.subscription = subscription;
      this.queuedEvents += 1;
    }
    this.queue.push(entry);
    this.queuedBytes += entry.bytes;
    this.queuedMessages += 1;
    while (this.queuedEvents > this.limits.subscriberQueue) this.dropOldestEvent();
    this.enforceHardCap();
  }

  private dropOldestEvent(): void {
    let i = Math.max(this.dropScan, this.head);
    while (i < this.queue.length) {
      const entry = this.queue[i]!;
      if (entry.line !== null && entry.subscription !== undefined) {
        entry.line = null;
        this.queuedBytes -= entry.bytes;
        this.queuedEvents -= 1;
        this.queuedMessages -= 1;
        this.lagged.set(entry.subscription, (this.lagged.get(entry.subscription) ?? 0) + 1);
        this.dropScan = i + 1;
        return;
      }
      i += 1;
    }
    this.dropScan = i;
  }

  private enforceHardCap(): void {
    const pendingBytes = this.queuedBytes + this.socket.writableLength;
    const maxMessages = Math.max(8 * this.limits.subscriberQueue, 4096);
    if (pendingBytes <= this.limits.maxOutboundBytes && this.queuedMessages <= maxMessages) return;
    this.server.log.warn(
      { connection: this.id, pending_bytes: pendingBytes, pending_messages: this.queuedMessages },
      "client is not reading its answers; connection destroyed",
    );
    this.clearQueue();
    this.closing = true;
    this.socket.destroy();
  }

  private write(line: string): void {
    if (!this.socket.write(line)) {
      this.blocked = true;
      // Stop reading requests while the peer is not reading answers: the backlog stays bounded.
      this.socket.pause();
    }
  }

  private flush(): void {
    if (this.closing) return;
    this.blocked = false;
    // The dropped events were older than everything still queued, so the notice goes first.
    for (const [subscription, dropped] of this.lagged) {
      const params: LaggedNotificationParams = { subscription, dropped };
      this.write(encodeMessage({ jsonrpc: "2.0", method: Notifications.LAGGED, params }));
    }
    this.lagged.clear();
    while (!this.blocked && this.head < this.queue.length) {
      const entry = this.queue[this.head]!;
      this.head += 1;
      if (entry.line === null) continue;
      this.queuedBytes -= entry.bytes;
      this.queuedMessages -= 1;
      if (entry.subscription !== undefined) this.queuedEvents -= 1;
      this.write(entry.line);
    }
    if (this.head === this.queue.length) this.clearQueue();
    else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.dropScan = Math.max(0, this.dropScan - this.head);
      this.head = 0;
    }
    if (!this.blocked) this.socket.resume();
  }

  private clearQueue(): void {
    this.queue.length = 0;
    this.head = 0;
    this.dropScan = 0;
    this.queuedBytes = 0;
    this.queuedEvents = 0;
    this.queuedMessages = 0;
  }

  /** Sends what is queued and a last message, then closes; input is ignored from now on. */
  closeWith(last?: JsonRpcResponse): void {
    if (this.closing) return;
    this.closing = true;
    this.unsubscribeAll();
    for (let i = this.head; i < this.queue.length; i += 1) {
      const line = this.queue[i]!.line;
      if (line !== null) this.socket.write(line);
    }
    this.clearQueue();
    endAndDestroy(this.socket, last === undefined ? undefined : `${encodeResponse(last)}\n`);
  }

  private unsubscribeAll(): void {
    for (const off of this.subscriptions.values()) off();
    this.subscriptions.clear();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.unsubscribeAll();
    this.clearQueue();
    this.server.forget(this);
    const callbacks = this.closeCallbacks.splice(0);
    for (const cb of callbacks) {
      try {
        cb();
      } catch (error) {
        this.server.log.warn({ connection: this.id, err: String(error) }, "onClose callback failed");
      }
    }
  }
}

/** Group id for `socket_group`: a number, or a name looked up in /etc/group. */
async function resolveGroupId(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  let text = "";
  try {
    text = await readFile("/etc/group", "utf8");
  } catch (error) {
    throw new RmxError(
      "CONFIG_INVALID",
      `cannot resolve socket group "${group}": /etc/group unreadable`,
      {
        group,
      },
      { cause: error },
    );
  }
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new RmxError("CONFIG_INVALID", `socket group "${group}" does not exist (not in /etc/group)`, {
    group,
  });
}

export class RpcServer {
  readonly log: RpcServerLogger;
  private readonly methods = new Map<string, MethodDef>();
  private readonly conns = new Map<number, Connection>();
  private server: net.Server | undefined;
  private nextConnectionId = 1;
  private nextSubscriptionId = 1;
  private stopping = false;
  /** The inode we bound, so close() never unlinks a socket another daemon put in our place. */
  private boundInode: { dev: number; ino: number } | undefined;

  constructor(private readonly opts: RpcServerOptions) {
    this.log = opts.logger ?? silentLogger;
    for (const [name, def] of Object.entries(opts.methods)) this.methods.set(name, def);
    this.methods.set("events.subscribe", {
      params: paramSchemas["events.subscribe"] as ZodType<SubscribeParams>,
      handler: (params: SubscribeParams, ctx: CallContext) => this.subscribe(params, ctx),
    });
    this.methods.set("events.unsubscribe", {
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
    return [...this.methods.keys()].sort();
  }

  async listen(): Promise<void> {
    if (this.server !== undefined) throw new Error("RpcServer.listen called twice");
    const { socketPath } = this.opts;
    const pipe = process.platform === "win32" || isWindowsPipe(socketPath);
    if (!pipe) {
      const bytes = Buffer.byteLength(socketPath);
      if (bytes > maxSocketPathBytes()) {
        throw new RmxError(
          "CONFIG_INVALID",
          `socket path ${socketPath} is ${bytes} bytes; Unix sockets allow at most ${maxSocketPathBytes()} ` +
            "(set RMX_SOCKET to a shorter path)",
          { socket: socketPath },
        );
      }
      await prepareSocketDir(socketPath, { system: this.opts.system ?? false });
      await this.refuseNonSocket(socketPath);
    }
    await this.clearStale(socketPath);

    const server = net.createServer((socket) => this.accept(socket));
    server.on("error", (error) => this.log.warn({ err: String(error) }, "socket server error"));
    this.server = server;
    if (pipe) {
      await this.bind(server, socketPath);
      return;
    }
    // Bind under a private name, set the mode, then link it into place: the socket is never reachable
    // with the wrong mode, an existing daemon's socket is never replaced (link fails with EEXIST), and
    // the name libuv unlinks on close is the private one, so close() decides about the public one.
    const temp = path.join(path.dirname(socketPath), `.${path.basename(socketPath)}.${process.pid}`);
    const viaTemp = Buffer.byteLength(temp) <= maxSocketPathBytes();
    const bound = viaTemp ? temp : socketPath;
    if (viaTemp) await unlink(temp).catch(() => {});
    try {
      await this.bind(server, bound);
      await this.applyMode(bound);
      if (viaTemp) await this.publish(temp, socketPath);
      const st = await stat(socketPath);
      this.boundInode = { dev: st.dev, ino: st.ino };
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      this.server = undefined;
      throw error;
    } finally {
      if (viaTemp) await unlink(temp).catch(() => {});
    }
  }

  private bind(server: net.Server, where: string): Promise<void> {
    const backlog = Math.min(Math.max(this.opts.maxConnections, 511), 4096);
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          error.code === "EADDRINUSE"
            ? new RmxError("ALREADY_RUNNING", `rmxd is already running: ${where} is in use`, {
                socket: where,
              })
            : new RmxError(
                "SOCKET_UNSAFE",
                `cannot listen on ${where}: ${error.code ?? error.message}`,
                { socket: where },
                { cause: error },
              ),
        );
      };
      server.once("error", onError);
      server.listen({ path: where, backlog }, () => {
        server.off("error", onError);
        resolve();
      });
    });
  }

  private async applyMode(where: string): Promise<void> {
    if (!this.opts.system) {
      await chmod(where, 0o600);
      return;
    }
    await chmod(where, 0o660);
    if (this.opts.socketGroup !== undefined) {
      const gid = await resolveGroupId(this.opts.socketGroup);
      await chown(where, -1, gid);
      // Group members must be able to traverse the directory to reach the socket.
      await chown(path.dirname(where), -1, gid);
    }
  }

  private async publish(temp: string, socketPath: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        await link(temp, socketPath);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") {
          await this.clearStale(socketPath);
          continue;
        }
        if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP") {
          // A filesystem without hard links: rename is atomic too, but would replace a racing daemon.
          await rename(temp, socketPath);
          return;
        }
        throw error;
      }
    }
    throw new RmxError("ALREADY_RUNNING", `rmxd is already running: ${socketPath} appeared while starting`, {
      socket: socketPath,
    });
  }

  private async refuseNonSocket(socketPath: string): Promise<void> {
    try {
      const st = await stat(socketPath);
      if (!st.isSocket()) {
        throw new RmxError(
          "SOCKET_UNSAFE",
          `${socketPath} exists and is not a socket; refusing to replace it`,
          { socket: socketPath },
        );
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  private async clearStale(socketPath: string): Promise<void> {
    const probe = await probeSocket(socketPath);
    if (probe.state === "live") {
      const who = probe.pid === undefined ? "" : ` (pid ${probe.pid})`;
      throw new RmxError(
        "ALREADY_RUNNING",
        `rmxd is already running${who}: it answers on ${socketPath}`,
        probe.pid === undefined ? { socket: socketPath } : { socket: socketPath, pid: probe.pid },
      );
    }
    if (probe.state === "stale") {
      this.log.info({ socket: socketPath }, "removing stale socket left by a previous daemon");
      await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
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
    const conn = new Connection(id, socket, this, {
      maxLineBytes: this.opts.maxLineBytes,
      subscriberQueue: this.opts.subscriberQueue,
      maxOutboundBytes: this.opts.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES,
    });
    this.conns.set(id, conn);
  }

  /** @internal */
  forget(conn: Connection): void {
    this.conns.delete(conn.id);
  }

  /** Answers one request object; null for notifications, which are never answered. Never rejects. @internal */
  async dispatch(message: unknown, ctx: CallContext): Promise<JsonRpcResponse | null> {
    try {
      return await this.answer(message, ctx);
    } catch (error) {
      // Only a bug here (a schema that throws, say) gets this far; the client still gets an answer.
      this.log.warn({ connection: ctx.connectionId, err: String(error) }, "request dispatch failed");
      return errorResponse(null, toRpcError(error));
    }
  }

  private async answer(message: unknown, ctx: CallContext): Promise<JsonRpcResponse | null> {
    if (message === null || typeof message !== "object" || Array.isArray(message)) {
      return errorResponse(
        null,
        wireError(RpcErrors.INVALID_REQUEST, "invalid request: expected a JSON-RPC request object"),
      );
    }
    const request = message as Record<string, unknown>;
    const isNotification = !Object.hasOwn(request, "id");
    const rawId = request.id;
    if (!isNotification && !isValidId(rawId)) {
      return errorResponse(
        null,
        wireError(RpcErrors.INVALID_REQUEST, 'invalid request: "id" must be a string, a number or null'),
      );
    }
    const id: RequestId = isNotification ? null : (rawId as RequestId);
    if (request.jsonrpc !== "2.0") {
      return errorResponse(
        id,
        wireError(RpcErrors.INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"'),
      );
    }
    const method = request.method;
    if (typeof method !== "string" || method === "") {
      return errorResponse(
        id,
        wireError(RpcErrors.INVALID_REQUEST, 'invalid request: "method" must be a non-empty string'),
      );
    }
    const def = this.methods.get(method);
    if (def === undefined) {
      if (isNotification) return null;
      return errorResponse(
        id,
        wireError(RpcErrors.METHOD_NOT_FOUND, `method not found: "${method}"`, { method }),
      );
    }
    const input = request.params === undefined ? {} : request.params;
    const parsed = def.params.safeParse(input);
    if (!parsed.success) {
      if (isNotification) return null;
      const { message: text, issues } = describeParamsError(parsed.error, input);
      return errorResponse(id, wireError(RpcErrors.INVALID_PARAMS, text, { method, issues }));
    }
    try {
      const result = await def.handler(parsed.data, ctx);
      return isNotification ? null : { jsonrpc: "2.0", id, result: result === undefined ? null : result };
    } catch (error) {
      if (!(error instanceof RmxError) && !(error instanceof RpcCallError)) {
        this.log.warn(
          { method, connection: ctx.connectionId, err: error instanceof Error ? error.stack : String(error) },
          "method handler threw",
        );
      }
      return isNotification ? null : errorResponse(id, toRpcError(error));
    }
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
    const { socketPath } = this.opts;
    if (this.boundInode === undefined) return;
    try {
      const st = await stat(socketPath);
      if (st.dev === this.boundInode.dev && st.ino === this.boundInode.ino) await unlink(socketPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
}
