/**
 * A typed client for the daemon's socket (`runtime-matrix/client`). Light on purpose: node:net, the
 * protocol constants and the socket location; no zod, nothing of the daemon.
 */
import { connect, type Socket } from "node:net";
import { LineDecoder } from "./framing.js";
import type {
  EventNotificationParams,
  JsonRpcErrorObject,
  LaggedNotificationParams,
} from "./protocol/jsonrpc.js";
import { Notifications } from "./protocol/jsonrpc.js";
import type { Methods } from "./protocol/methods.js";
import { RpcCallError } from "./rpc-error.js";
import { defaultSocketPath } from "./socket-path.js";

export { RpcCallError } from "./rpc-error.js";
export { defaultSocketPath } from "./socket-path.js";

export interface ConnectOptions {
  socketPath?: string;
  /** Connect timeout; default 2000 ms. */
  timeoutMs?: number;
}

export interface CallOptions {
  /** Reject with TIMEOUT if no answer arrives in time; default: wait for as long as the connection lives. */
  timeoutMs?: number;
}

export interface Subscription {
  subscription: string;
  unsubscribe(): Promise<void>;
}

/** Answers can be large (a full status); the daemon's own request limit is far smaller. */
const MAX_ANSWER_LINE_BYTES = 256 * 1024 * 1024;
/** Events for a subscription id not yet known (they can overtake the subscribe answer). */
const MAX_EARLY_EVENTS = 1024;
/** A listen backlog that is momentarily full answers EAGAIN; retry within the connect deadline. */
const EAGAIN_RETRY_MS = 20;

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

interface SubscriptionHandlers {
  onEvent(e: EventNotificationParams): void;
  onLagged?: (l: LaggedNotificationParams) => void;
}

function connectError(socketPath: string, error: NodeJS.ErrnoException): RpcCallError {
  switch (error.code) {
    case "ENOENT":
      return RpcCallError.local(
        "DAEMON_NOT_RUNNING",
        `rmxd is not running (no socket at ${socketPath}); start it with: rmxd`,
        { socket: socketPath },
        { cause: error },
      );
    case "ECONNREFUSED":
      return RpcCallError.local(
        "DAEMON_NOT_RUNNING",
        `rmxd is not running (nothing listens on ${socketPath}); start it with: rmxd`,
        { socket: socketPath },
        { cause: error },
      );
    case "EACCES":
    case "EPERM":
      return RpcCallError.local(
        "PEER_REFUSED",
        `permission denied connecting to ${socketPath}: the daemon belongs to another user ` +
          "(system daemons need membership of the socket group)",
        { socket: socketPath },
        { cause: error },
      );
    default:
      return RpcCallError.local(
        "DAEMON_NOT_RUNNING",
        `cannot connect to rmxd at ${socketPath}: ${error.code ?? error.message}`,
        { socket: socketPath },
        { cause: error },
      );
  }
}

function openSocket(socketPath: string, deadline: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect(socketPath);
      const timer = setTimeout(
        () => {
          socket.destroy();
          reject(
            RpcCallError.local("TIMEOUT", `timed out connecting to rmxd at ${socketPath}`, {
              socket: socketPath,
            }),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(socket);
      });
      socket.once("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        if (error.code === "EAGAIN" && Date.now() + EAGAIN_RETRY_MS < deadline) {
          setTimeout(attempt, EAGAIN_RETRY_MS);
          return;
        }
        reject(connectError(socketPath, error));
      });
    };
    attempt();
  });
}

export class RmxClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly notificationHandlers = new Map<string, Set<(params: unknown) => void>>();
  private readonly closeHandlers = new Set<(err?: Error) => void>();
  private readonly subscriptions = new Map<string, SubscriptionHandlers>();
  private readonly earlyEvents = new Map<string, Array<{ method: string; params: unknown }>>();
  /** subscribe() calls awaiting their answer: only then are events for unknown ids kept. */
  private subscribing = 0;
  private readonly decoder = new LineDecoder(MAX_ANSWER_LINE_BYTES);
  /** An error the daemon sent about the connection itself (id null), reported when it closes. */
  private connectionError: RpcCallError | undefined;
  private closeError: Error | undefined;
  private closed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
  ) {
    let markClosed!: () => void;
    this.closedPromise = new Promise((resolve) => {
      markClosed = resolve;
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => {
      this.closeError = error;
    });
    socket.on("close", () => {
      this.onClosed();
      markClosed();
    });
  }

  static async connect(opts: ConnectOptions = {}): Promise<RmxClient> {
    const socketPath = opts.socketPath ?? defaultSocketPath();
    const socket = await openSocket(socketPath, Date.now() + (opts.timeoutMs ?? 2000));
    return new RmxClient(socket, socketPath);
  }

  call<M extends keyof Methods>(
    method: M,
    params?: Methods[M][0],
    opts?: CallOptions,
  ): Promise<Methods[M][1]>;
  call(method: string, params?: unknown, opts?: CallOptions): Promise<unknown>;
  call(method: string, params?: unknown, opts: CallOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closedError(method));
    const id = this.nextId++;
    const request =
      params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
    let line: string;
    try {
      line = `${JSON.stringify(request)}\n`;
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs !== undefined) {
        const timeoutMs = opts.timeoutMs;
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(
            RpcCallError.local("TIMEOUT", `timed out after ${timeoutMs} ms waiting for ${method}`, {
              method,
              timeout_ms: timeoutMs,
            }),
          );
        }, timeoutMs);
      }
      this.pending.set(id, { method, resolve, reject, timer });
      this.socket.write(line);
    });
  }

  async subscribe(
    topics: string[],
    onEvent: (e: EventNotificationParams) => void,
    onLagged?: (l: LaggedNotificationParams) => void,
  ): Promise<Subscription> {
    this.subscribing += 1;
    let subscription: string;
    try {
      ({ subscription } = await this.call("events.subscribe", { topics }));
    } finally {
      this.subscribing -= 1;
    }
    const handlers: SubscriptionHandlers = onLagged === undefined ? { onEvent } : { onEvent, onLagged };
    this.subscriptions.set(subscription, handlers);
    const early = this.earlyEvents.get(subscription) ?? [];
    this.earlyEvents.delete(subscription);
    if (this.subscribing === 0) this.earlyEvents.clear();
    for (const n of early) this.deliverToSubscription(n.method, n.params);
    return {
      subscription,
      unsubscribe: async () => {
        this.subscriptions.delete(subscription);
        if (!this.closed) await this.call("events.unsubscribe", { subscription });
      },
    };
  }

  /** Handler for every notification with this method (`event`, `events.lagged`, `logs.line`, …). */
  // biome-ignore lint/suspicious/noExplicitAny: notification params are typed by the caller per method
  onNotification(method: string, handler: (params: any) => void): () => void {
    let set = this.notificationHandlers.get(method);
    if (set === undefined) {
      set = new Set();
      this.notificationHandlers.set(method, set);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }

  /** Called once when the connection ends; with an error when it did not end by `close()`. */
  onClose(handler: (err?: Error) => void): () => void {
    if (this.closed) {
      queueMicrotask(() => handler(this.closeError));
      return () => {};
    }
    this.closeHandlers.add(handler);
    return () => {
      this.closeHandlers.delete(handler);
    };
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), 1000);
      timer.unref();
      await this.closedPromise;
      clearTimeout(timer);
      return;
    }
    await this.closedPromise;
  }

  /**
   * Drops the connection at once, without waiting for the daemon to close its side as `close()` does:
   * for a one-shot caller that has every answer it wanted and is about to exit (`rmx runtime status`),
   * where that wait is a round trip through the daemon's event loop spent doing nothing.
   */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const { lines, overflow } = this.decoder.push(chunk);
    for (const line of lines) this.onLine(line);
    if (overflow) {
      this.closeError = new Error(`answer from rmxd exceeds ${MAX_ANSWER_LINE_BYTES} bytes`);
      this.socket.destroy();
    }
  }

  private onLine(line: string): void {
    if (line.trim() === "") return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    for (const item of Array.isArray(message) ? message : [message]) this.onMessage(item);
  }

  private onMessage(message: unknown): void {
    if (message === null || typeof message !== "object") return;
    const m = message as {
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: JsonRpcErrorObject;
    };
    if (typeof m.method === "string" && m.id === undefined) {
      this.onNotificationMessage(m.method, m.params);
      return;
    }
    if (m.id === null || m.id === undefined) {
      // An error about the connection (line too long, too many connections): the daemon closes next.
      if (m.error !== undefined) this.connectionError = RpcCallError.fromObject(m.error);
      return;
    }
    if (typeof m.id !== "number") return;
    const pending = this.pending.get(m.id);
    if (pending === undefined) return;
    this.pending.delete(m.id);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (m.error !== undefined) pending.reject(RpcCallError.fromObject(m.error));
    else pending.resolve(m.result);
  }

  private onNotificationMessage(method: string, params: unknown): void {
    if (method === Notifications.EVENT || method === Notifications.LAGGED) {
      const subscription = (params as { subscription?: unknown } | null)?.subscription;
      if (typeof subscription === "string" && !this.subscriptions.has(subscription) && this.subscribing > 0) {
        const early = this.earlyEvents.get(subscription) ?? [];
        if (early.length < MAX_EARLY_EVENTS) early.push({ method, params });
        this.earlyEvents.set(subscription, early);
      } else {
        this.deliverToSubscription(method, params);
      }
    }
    const set = this.notificationHandlers.get(method);
    if (set !== undefined) for (const handler of [...set]) handler(params);
  }

  private deliverToSubscription(method: string, params: unknown): void {
    const subscription = (params as { subscription?: unknown } | null)?.subscription;
    const handlers = typeof subscription === "string" ? this.subscriptions.get(subscription) : undefined;
    if (handlers === undefined) return;
    if (method === Notifications.EVENT) handlers.onEvent(params as EventNotificationParams);
    else if (method === Notifications.LAGGED) handlers.onLagged?.(params as LaggedNotificationParams);
  }

  private closedError(method: string): RpcCallError {
    if (this.connectionError !== undefined) return this.connectionError;
    return RpcCallError.local(
      "DAEMON_NOT_RUNNING",
      `connection to rmxd at ${this.socketPath} closed before ${method} was answered`,
      { socket: this.socketPath, method },
      this.closeError === undefined ? undefined : { cause: this.closeError },
    );
  }

  private onClosed(): void {
    const byUs = this.closed;
    this.closed = true;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(this.closedError(pending.method));
    }
    const err = byUs
      ? undefined
      : (this.closeError ?? this.connectionError ?? new Error("connection closed by rmxd"));
    for (const handler of [...this.closeHandlers]) handler(err);
    this.closeHandlers.clear();
  }
}
