/**
 * One client connection: NDJSON framing with the line cap, the partial-line and idle timeouts, and the
 * outbound queue with its backpressure (events dropped oldest-first past the subscriber queue, the
 * connection cut off past its own output cap or when it holds the most at the server-wide cap).
 */
import type net from "node:net";
import { encodeMessage, LineDecoder } from "../framing.js";
import type {
  EventNotificationParams,
  JsonRpcResponse,
  LaggedNotificationParams,
} from "../protocol/jsonrpc.js";
import { Notifications } from "../protocol/jsonrpc.js";
import type { MaybePromise } from "./dispatch.js";
import type { BudgetHolder, OutputBudget } from "./output-budget.js";
import type { CallContext, RpcServerLogger, WireEvent, WireLimits } from "./types.js";
import { encodeResponse, limitError } from "./wire.js";

/** How long a connection being closed may take to flush before it is destroyed. */
const CLOSE_FLUSH_MS = 2000;

export interface ConnectionHost {
  readonly log: RpcServerLogger;
  readonly budget: OutputBudget;
  /** A plain value for a synchronous method: written in the same turn (see Dispatcher.answerLine). */
  answerLine(line: string, ctx: CallContext): MaybePromise<string | null>;
  forget(conn: Connection): void;
}

/**
 * An event's `topic, seq, time, payload` serialised once and shared by every subscriber's line (fan-out to
 * 100 subscribers must not stringify the payload 100 times). Keyed by the event object the bus hands to
 * every listener; `null` marks a payload that cannot be serialised.
 */
const eventBodies = new WeakMap<WireEvent, string | null>();

function encodedEventBody(event: WireEvent): string | null {
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
  /** Bytes, not the string: off the JS heap, so a backlog is not copied around by every young-generation GC. */
  line: Buffer | null;
  bytes: number;
  /** Set for event notifications, the only messages that may be dropped. */
  subscription?: string;
}

/**
 * Half-closes, reading (and ignoring) until the peer closes its side too, so the peer sees a clean end
 * rather than a reset; a peer that never does is destroyed after a deadline.
 */
export function endAndDestroy(socket: net.Socket, last?: string): void {
  const timer = setTimeout(() => socket.destroy(), CLOSE_FLUSH_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  socket.removeAllListeners("data");
  socket.on("data", () => {});
  socket.resume();
  if (last === undefined) socket.end();
  else socket.end(last);
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

export class Connection implements BudgetHolder {
  private readonly decoder: LineDecoder;
  private readonly queue: Outbound[] = [];
  private head = 0;
  private dropScan = 0;
  private queuedBytes = 0;
  private queuedEvents = 0;
  private queuedMessages = 0;
  private blocked = false;
  /**
   * Bytes of the message whose write filled the socket's buffer: it is being sent, so the per-connection
   * cap does not count it (one answer larger than the cap must not cut off a client that reads).
   */
  private sendingBytes = 0;
  private inFlight = 0;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private partialTimer: NodeJS.Timeout | undefined;
  private readonly lagged = new Map<string, number>();
  readonly subscriptions = new Map<string, () => void>();
  private readonly closeCallbacks: Array<() => void> = [];
  private readonly abort = new AbortController();
  private closing = false;
  closed = false;
  readonly ctx: CallContext;

  constructor(
    readonly id: number,
    private readonly socket: net.Socket,
    private readonly host: ConnectionHost,
    private readonly limits: WireLimits,
  ) {
    this.decoder = new LineDecoder(limits.maxLineBytes);
    this.ctx = {
      connectionId: id,
      notify: (method, params) => this.sendNotification(method, params),
      onClose: (cb) => {
        if (this.closed) queueMicrotask(cb);
        else this.closeCallbacks.push(cb);
      },
      signal: this.abort.signal,
    };
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.flush());
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.host.log.debug({ connection: id, err: error.code ?? error.message }, "connection error");
    });
    socket.on("close", () => this.onClosed());
    this.armIdleTimer(limits.idleTimeoutMs);
  }

  /** Bytes read but not yet a complete line. */
  get bufferedInput(): number {
    return this.decoder.buffered;
  }

  /** Unsent output: the queue and the socket's write buffer. */
  pendingBytes(): number {
    return this.closing ? 0 : this.queuedBytes + this.socket.writableLength;
  }

  /** What the per-connection cap counts: unsent output behind the message being sent. */
  backlogBytes(): number {
    if (this.closing) return 0;
    return this.queuedBytes + Math.max(0, this.socket.writableLength - this.sendingBytes);
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.lastActivity = Date.now();
    const { lines, overflow } = this.decoder.push(chunk);
    for (const line of lines) this.handleLine(line);
    if (overflow) {
      const limit = this.limits.maxLineBytes;
      this.host.log.warn({ connection: this.id, limit }, "line too long; closing connection");
      this.closeWith(
        limitError("LINE_TOO_LONG", `line too long: a message may be at most ${limit} bytes`, limit),
      );
      return;
    }
    this.watchPartialLine();
  }

  /** A line begun must end within the partial-line timeout; a complete line disarms it. */
  private watchPartialLine(): void {
    if (this.decoder.buffered === 0) {
      if (this.partialTimer !== undefined) clearTimeout(this.partialTimer);
      this.partialTimer = undefined;
      return;
    }
    if (this.partialTimer !== undefined || this.closing) return;
    const limit = this.limits.partialLineTimeoutMs;
    this.partialTimer = setTimeout(() => {
      this.partialTimer = undefined;
      const held = this.decoder.buffered;
      this.host.log.warn(
        { connection: this.id, held_bytes: held, limit_ms: limit },
        "incomplete line timed out",
      );
      this.closeWith(
        limitError(
          "LINE_TIMEOUT",
          `incomplete line: ${held} bytes received without a newline within ${seconds(limit)}; closing the connection`,
          limit,
        ),
      );
    }, limit);
    this.partialTimer.unref();
  }

  private armIdleTimer(afterMs: number): void {
    if (this.closing) return;
    this.idleTimer = setTimeout(() => this.checkIdle(), Math.max(afterMs, 1));
    this.idleTimer.unref();
  }

  /** Idle: nothing in flight either way and nothing held for the peer (subscriptions, close hooks). */
  private checkIdle(): void {
    this.idleTimer = undefined;
    if (this.closing) return;
    const limit = this.limits.idleTimeoutMs;
    const busy =
      this.inFlight > 0 ||
      this.subscriptions.size > 0 ||
      this.closeCallbacks.length > 0 ||
      this.pendingBytes() > 0 ||
      this.decoder.buffered > 0;
    const quietFor = Date.now() - this.lastActivity;
    if (busy || quietFor < limit) {
      if (busy) this.lastActivity = Date.now();
      this.armIdleTimer(busy ? limit : limit - quietFor);
      return;
    }
    this.host.log.info({ connection: this.id, limit_ms: limit }, "idle connection closed");
    this.closeWith(
      limitError(
        "IDLE_TIMEOUT",
        `idle connection closed: no request, subscription or pending answer for ${seconds(limit)}`,
        limit,
      ),
    );
  }

  private handleLine(line: string): void {
    if (this.closing || line.trim() === "") return;
    this.inFlight += 1;
    const answered = (text: string | null): void => {
      this.inFlight -= 1;
      this.lastActivity = Date.now();
      if (text !== null) this.enqueue(text);
    };
    const answer = this.host.answerLine(line, this.ctx);
    if (typeof answer === "string" || answer === null) answered(answer);
    else void answer.then(answered);
  }

  sendResponse(response: JsonRpcResponse): void {
    this.enqueue(`${encodeResponse(response)}\n`);
  }

  sendNotification(method: string, params: unknown): void {
    // After a cut-off a handler may still be notifying: do not pay for encoding what is never sent.
    if (this.closing) return;
    let line: string;
    try {
      line = encodeMessage({ jsonrpc: "2.0", method, params });
    } catch (error) {
      this.host.log.warn(
        { connection: this.id, method, err: String(error) },
        "notification not serializable",
      );
      return;
    }
    this.enqueue(line);
  }

  sendEvent(subscription: string, event: WireEvent): void {
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
      this.account();
      return;
    }
    const bytes = Buffer.from(line, "utf8");
    const entry: Outbound = { line: bytes, bytes: bytes.length };
    if (subscription !== undefined) {
      entry.subscription = subscription;
      this.queuedEvents += 1;
    }
    this.queue.push(entry);
    this.queuedBytes += entry.bytes;
    this.queuedMessages += 1;
    while (this.queuedEvents > this.limits.subscriberQueue) this.dropOldestEvent();
    if (this.overOwnCap()) return;
    this.account();
  }

  /** Tells the server-wide budget what this connection holds now (which may cut it off). */
  private account(): void {
    if (!this.closing) this.host.budget.set(this, this.pendingBytes());
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

  private overOwnCap(): boolean {
    const pendingBytes = this.backlogBytes();
    const maxMessages = Math.max(8 * this.limits.subscriberQueue, 4096);
    if (pendingBytes <= this.limits.maxOutboundBytes && this.queuedMessages <= maxMessages) return false;
    this.host.log.warn(
      { connection: this.id, pending_bytes: pendingBytes, pending_messages: this.queuedMessages },
      "client is not reading its answers; connection cut off",
    );
    const limit = this.limits.maxOutboundBytes;
    this.cutOffWith(
      limitError(
        "OUTPUT_BACKLOG",
        `connection cut off: ${pendingBytes} bytes (${this.queuedMessages} messages) of answers unread, over the limit of ${limit} bytes per connection`,
        limit,
      ),
    );
    return true;
  }

  /** The server-wide budget chose this connection: it holds the most unsent output. */
  cutOff(_reason: "total", total: number, limit: number): void {
    const held = this.pendingBytes();
    this.host.log.warn(
      { connection: this.id, pending_bytes: held, total_pending_bytes: total, limit },
      "client is not reading its answers and holds the most of the server-wide output cap; connection cut off",
    );
    this.cutOffWith(
      limitError(
        "OUTPUT_BACKLOG",
        `connection cut off: ${held} bytes of answers unread, the most of any connection, while all connections together held ${total} bytes, over the limit of ${limit}`,
        limit,
      ),
    );
  }

  /** Drops what is queued (the peer is not reading it), then ends with one error line after the socket's buffer. */
  private cutOffWith(last: JsonRpcResponse): void {
    if (this.closing) return;
    this.clearQueue();
    this.beginClosing();
    endAndDestroy(this.socket, `${encodeResponse(last)}\n`);
  }

  private write(line: string | Buffer): void {
    if (!this.socket.write(line)) {
      this.sendingBytes = typeof line === "string" ? Buffer.byteLength(line, "utf8") : line.length;
      this.blocked = true;
      // Stop reading requests while the peer is not reading answers: the backlog stays bounded.
      this.socket.pause();
    }
  }

  private flush(): void {
    if (this.closing) return;
    this.blocked = false;
    this.sendingBytes = 0;
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
    this.account();
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

  private beginClosing(): void {
    this.closing = true;
    this.decoder.reset();
    this.host.budget.release(this);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    if (this.partialTimer !== undefined) clearTimeout(this.partialTimer);
    this.idleTimer = undefined;
    this.partialTimer = undefined;
    this.unsubscribeAll();
    if (!this.abort.signal.aborted) this.abort.abort(new Error(`connection ${this.id} closed`));
  }

  /** Sends what is queued and a last message, then closes; input is ignored from now on. */
  closeWith(last?: JsonRpcResponse): void {
    if (this.closing) return;
    const queued = this.queue.slice(this.head);
    this.clearQueue();
    this.beginClosing();
    for (const entry of queued) if (entry.line !== null) this.socket.write(entry.line);
    endAndDestroy(this.socket, last === undefined ? undefined : `${encodeResponse(last)}\n`);
  }

  private unsubscribeAll(): void {
    for (const off of this.subscriptions.values()) off();
    this.subscriptions.clear();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearQueue();
    this.beginClosing();
    this.host.forget(this);
    const callbacks = this.closeCallbacks.splice(0);
    for (const cb of callbacks) {
      try {
        cb();
      } catch (error) {
        this.host.log.warn({ connection: this.id, err: String(error) }, "onClose callback failed");
      }
    }
  }
}
