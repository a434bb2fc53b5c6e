/**
 * forward() on `node:net`: one POST to a backend over a kept connection (upstream-pool.ts), its answer
 * parsed as it arrives (http-lite-parse.ts with a sink) and written to the client piece by piece.
 * node:http's client (ClientRequest, IncomingMessage, the agent, llhttp) cost the gateway more CPU than
 * the rest of a request; this keeps forward.ts's outcomes, messages and rules:
 * - backpressure: a full client socket pauses the backend's socket until `drain`;
 * - a client that goes away destroys the backend's socket (which frees the backend's slot);
 * - before the head of a passed answer reaches the client a failure is `retry` (another cell may
 *   answer); after it the answer is cut (`broken`);
 * - a reused socket that fails before any byte of the answer (the server closed it while idle) is sent
 *   again once on a fresh connection; a fresh one's failure is real.
 */
import type http from "node:http";
import { type BodySink, type ParsedHead, ResponseParser } from "../../adapters/shared/http-lite-parse.js";
import { monotonicMs } from "../../base/monotonic.js";
import type { ConnectionUser, UpstreamConnection } from "./upstream-pool.js";
import type { ForwardOutcome, ForwardRequest } from "./upstream-types.js";
import { type UpstreamWire, writeRequest } from "./upstream-wire.js";

const MAX_ERROR_BODY = 64 * 1024;
/** Response headers of the backend that are passed on; hop-by-hop and length ones are Node's to set. */
export const PASSED_HEADERS = ["content-type", "content-length", "cache-control"];
/** What a server's close of an idle kept socket looks like to the next request on it. */
const STALE_SOCKET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

class Exchange implements ConnectionUser, BodySink {
  private readonly started = monotonicMs();
  private conn!: UpstreamConnection;
  private parser!: ResponseParser;
  private mayResend = true;
  private settled = false;
  /** The answer's head went to the client: a failure now cuts it. */
  private sent = false;
  /** An answer the caller decides on (not passed): its status and body, kept up to MAX_ERROR_BODY. */
  private held: { status: number; pieces: Buffer[]; bytes: number } | undefined;
  private paused = false;
  /** A server-sent event stream's head was written in this read: it leaves at its end, chunk or not. */
  private headPending = false;
  private ttfbMs: number | undefined;

  constructor(
    private readonly client: http.ServerResponse,
    private readonly req: ForwardRequest,
    private readonly wire: UpstreamWire,
    private readonly passStatus: (status: number) => boolean,
    private readonly resolve: (outcome: ForwardOutcome) => void,
  ) {
    client.on("close", this.onClientClose);
    this.attempt(false);
  }

  private attempt(fresh: boolean): void {
    this.conn = this.wire.pool.acquire(this, fresh);
    this.parser = new ResponseParser(Number.POSITIVE_INFINITY, this);
    this.conn.setIdleTimeout(this.req.idleTimeoutMs);
    writeRequest(this.conn.socket, this.wire, this.req.body);
  }

  // --- the parser's sink ---

  head(head: ParsedHead): void {
    const { status } = head;
    if (!this.passStatus(status)) {
      this.held = { status, pieces: [], bytes: 0 };
      return;
    }
    const headers: Record<string, string> = { ...this.req.answerHeaders, "x-rmx-cell": this.req.cell };
    for (const name of PASSED_HEADERS) {
      const value = head.headers.get(name);
      if (value !== undefined) headers[name] = value;
    }
    this.client.writeHead(status, headers);
    this.sent = true;
    this.headPending = headers["content-type"]?.includes("event-stream") === true;
  }

  body(piece: Buffer): void {
    if (this.settled) return;
    const held = this.held;
    if (held !== undefined) {
      if (held.bytes < MAX_ERROR_BODY) {
        held.pieces.push(piece);
        held.bytes += piece.length;
      }
      return;
    }
    // Bytes pass through untouched. The first piece is the time to first token.
    if (this.ttfbMs === undefined) this.ttfbMs = monotonicMs() - this.started;
    if (!this.client.write(piece) && !this.paused) {
      this.paused = true;
      this.conn.socket.pause();
      this.client.once("drain", this.onDrain);
    }
  }

  // --- the connection's events ---

  onData(chunk: Buffer): void {
    // What this read passes on leaves in one write at its end, not at the next tick (node's own cork per
    // write): the first chunk of a stream reaches the client before anything else runs.
    const socket = this.client.socket;
    socket?.cork();
    const event = this.parser.feed(chunk);
    // A stream's client sees it begin at once: its headers leave with a first chunk that came with them
    // (one write, as a plain proxy sends it), else alone now (a model may think for seconds). Not
    // `headersSent`: that is true from writeHead on, before a byte has left.
    if (this.headPending) {
      this.headPending = false;
      if (this.ttfbMs === undefined && !this.client.destroyed) this.client.flushHeaders();
    }
    socket?.uncork();
    if (this.settled || event.kind === "more") return;
    // `too_large` cannot happen (no limit); an invalid answer is node's "Parse Error".
    if (event.kind === "done") this.complete(event.keepAlive);
    else
      this.fail(`Parse Error: ${event.kind === "invalid" ? event.reason : "response too large"}`, "invalid");
  }

  onEnd(): void {
    if (this.settled) return;
    const event = this.parser.end();
    if (event.kind === "done") this.complete(false);
    else if (this.stale(undefined)) this.resend();
    else this.fail("socket hang up", "closed");
  }

  onError(error: NodeJS.ErrnoException): void {
    if (this.settled) return;
    if (this.stale(error.code)) this.resend();
    else this.fail(error.message || (error.code ?? "socket error"), "closed");
  }

  onTimeout(): void {
    if (this.settled) return;
    this.fail(`no data from the backend for ${this.req.idleTimeoutMs} ms`, "timeout");
  }

  // --- outcomes ---

  /** Only a socket kept from an earlier exchange can be stale, and only before any byte of the answer. */
  private stale(code: string | undefined): boolean {
    return (
      this.mayResend &&
      this.conn.uses > 0 &&
      this.parser.received === 0 &&
      (code === undefined || STALE_SOCKET.has(code))
    );
  }

  private resend(): void {
    this.mayResend = false;
    this.wire.pool.release(this.conn, false);
    this.attempt(true);
  }

  private complete(keepAlive: boolean): void {
    const head = this.parser.head;
    this.wire.pool.release(this.conn, keepAlive, head?.headers.get("keep-alive"));
    const held = this.held;
    if (held !== undefined) {
      const text = Buffer.concat(held.pieces, held.bytes).toString("utf8");
      const { status } = held;
      if (status >= 500)
        this.settle({
          kind: "retry",
          status,
          message: `HTTP ${status}: ${text.slice(0, 300)}`,
          timedOut: false,
        });
      else this.settle({ kind: "refused", status, body: text });
      return;
    }
    this.client.end();
    const status = head?.status ?? 502;
    this.settle(
      this.ttfbMs === undefined ? { kind: "done", status } : { kind: "done", status, ttfbMs: this.ttfbMs },
    );
  }

  /** The connection failed: closed, and the outcome by how far the answer got. */
  private fail(reason: string, how: "closed" | "timeout" | "invalid"): void {
    const timedOut = how === "timeout";
    this.wire.pool.release(this.conn, false);
    if (this.held !== undefined) {
      const { status } = this.held;
      this.settle({ kind: "retry", status, message: `HTTP ${status} (body cut)`, timedOut: false });
      return;
    }
    if (!this.sent) {
      this.settle({ kind: "retry", message: `${this.req.target.label}: ${reason}`, timedOut });
      return;
    }
    this.client.destroy();
    const message =
      how === "closed" ? "the backend closed the answer mid-stream" : `${this.req.target.label}: ${reason}`;
    this.settle({ kind: "broken", message, ...this.ttfb() });
  }

  private readonly onClientClose = (): void => {
    if (this.client.writableFinished || this.settled) return;
    this.wire.pool.release(this.conn, false);
    this.settle({ kind: "aborted", ...this.ttfb() });
  };

  private readonly onDrain = (): void => {
    this.paused = false;
    if (!this.settled) this.conn.socket.resume();
  };

  private ttfb(): { ttfbMs?: number } {
    return this.ttfbMs === undefined ? {} : { ttfbMs: this.ttfbMs };
  }

  private settle(outcome: ForwardOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.client.off("close", this.onClientClose);
    if (this.paused) this.client.off("drain", this.onDrain);
    this.resolve(outcome);
  }
}

/** forward() over the lean client; see the module comment. */
export function exchange(
  client: http.ServerResponse,
  req: ForwardRequest,
  wire: UpstreamWire,
  passStatus: (status: number) => boolean,
): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    new Exchange(client, req, wire, passStatus, resolve);
  });
}
