/**
 * The GET client of probes and scrapes: HTTP/1.1 keep-alive on `node:net`, one persistent socket per
 * endpoint. 50 runtimes probed every 5 s cost node:http (agent, ClientRequest, IncomingMessage, header
 * objects, llhttp) more CPU than the daemon's whole budget; this sends pre-built request bytes and
 * parses the few framings a GET answer has. Same results as httpRequest (kinds, statuses, bodies,
 * messages); anything it does not handle (https, a caller's abort signal, unusual headers) goes to
 * httpRequest.
 */
import net from "node:net";
import { monotonicMs } from "../../base/monotonic.js";
import { classifyError, type HttpResult, httpRequest } from "./http.js";
import { Deadlines, type Expiring } from "./http-lite-deadlines.js";
import { type ParsedHead, ResponseParser } from "./http-lite-parse.js";

export interface LiteGetOptions {
  headers?: Record<string, string>;
  /** Hard limit on the whole exchange, the resend included. */
  timeoutMs: number;
  /** Bodies larger than this fail with kind `error` (default 4 MiB). */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 4 * 1024 * 1024;
/** What a server's close of an idle kept socket looks like to the next request on it. */
const STALE_SOCKET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * A server's `Keep-Alive: timeout=N` bounds how long a kept socket is reused. No margin (node's agent
 * takes 1 s off): llama-server and node both say 5 s, the probe interval is 5 s, and a margin would make
 * every probe a new connection (connect, write, close: most of the daemon's quiet CPU). The probe wheel
 * sends each probe up to 1 % of its interval early (daemon/supervise/probe-wheel.ts) so it arrives
 * before such a server's deadline; losing the race at the edge costs one resend on a fresh socket,
 * never a failed probe.
 */
const KEEP_ALIVE_MARGIN_MS = 0;

interface Target {
  key: string;
  host: string;
  port: number;
  request: Buffer;
  /** The last answer that came whole in one read (see `Repeat`). */
  last?: Repeat;
}

/**
 * A steady probe's answer is, byte for byte, the previous one but for its Date header: when the bytes
 * of a read match the last whole answer outside that value (same length, no line break in it), it
 * parses to the same status, framing and body, so the exchange reuses them and allocates nothing for
 * the answer (no copy, parser, header map or body string). Anything else takes the parser.
 */
interface Repeat {
  /** The answer's bytes (its own copy; the Date value is overwritten by each repeat's). */
  bytes: Buffer;
  /** The shared read buffer over the answer's length (see `repeats`). */
  view?: Buffer;
  /** The Date header's value: [skipFrom, skipTo); empty when there is none. */
  skipFrom: number;
  skipTo: number;
  status: number;
  body: string;
  keepAlive: boolean;
  /** The server's `Keep-Alive: timeout=N` in ms, parsed once (see `keepAliveMs`). */
  keepAliveMs: number | undefined;
}

const DATE_VALUE = /\r\ndate:[ \t]*/i;
/**
 * Only answers this small are kept to compare (a health answer is ~200 bytes): a target keeps its
 * last one for its life, and larger answers (metrics, slots) carry counters that differ every time.
 */
const REPEAT_MAX_BYTES = 4096;

/**
 * Whether `buffer[0, n)` is `last`'s answer again; see `Repeat`. The new Date value is copied into the
 * kept bytes (never read: status, framing and body are kept apart), so the rest is one whole-buffer
 * `equals` against a view of the read buffer made once: `compare` with offsets allocates ~400 bytes a
 * call (argument checks behind a wrapper) and ran twice a probe.
 */
function repeats(last: Repeat, buffer: Buffer, n: number): boolean {
  const { bytes, skipFrom, skipTo } = last;
  if (n !== bytes.length) return false;
  for (let i = skipFrom; i < skipTo; i++) {
    const byte = buffer[i] as number;
    if (byte === 13 || byte === 10) return false;
    bytes[i] = byte;
  }
  if (buffer === READ_BUFFER) return readView(last).equals(bytes);
  for (let i = 0; i < n; i++) if (buffer[i] !== bytes[i]) return false;
  return true;
}

/** `READ_BUFFER[0, last.bytes.length)`, made at the first comparison. */
function readView(last: Repeat): Buffer {
  last.view ??= READ_BUFFER.subarray(0, last.bytes.length);
  return last.view;
}

/** The answer `bytes` (whole, parsed to `head` and `body`) as the next read's comparand. */
function repeatOf(bytes: Buffer, head: ParsedHead, body: string, keepAlive: boolean): Repeat | undefined {
  if (bytes.length > REPEAT_MAX_BYTES) return undefined;
  const headEnd = bytes.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  let skipFrom = 0;
  let skipTo = 0;
  if (head.headers.has("date")) {
    const text = bytes.toString("latin1", 0, headEnd + 2);
    const match = DATE_VALUE.exec(text);
    // A second Date header (joined by the parser) would make the range ambiguous: parse those each time.
    if (match === null || DATE_VALUE.exec(text.slice(match.index + 2)) !== null) return undefined;
    skipFrom = match.index + match[0].length;
    skipTo = text.indexOf("\r\n", skipFrom);
  }
  return {
    bytes,
    skipFrom,
    skipTo,
    status: head.status,
    body,
    keepAlive,
    keepAliveMs: keepAliveMs(head.headers.get("keep-alive")),
  };
}

/** Answers recognised as a repeat of the endpoint's last one (tests, benches). */
export const liteStats = { repeats: 0 };

/** Each endpoint's kept socket: idle between exchanges, carrying at most one (no pipelining). */
const kept = new Map<string, Conn>();
/** Request bytes per (url, headers): built once, written as is every probe. */
const targets = new Map<string, Target | null>();
const MAX_TARGETS = 1024;

function targetOf(url: string, headers: Record<string, string> | undefined): Target | undefined {
  const cacheKey = headers === undefined ? url : `${url}\n${JSON.stringify(headers)}`;
  const cached = targets.get(cacheKey);
  if (cached !== undefined) return cached ?? undefined;
  const built = buildTarget(url, headers);
  if (targets.size >= MAX_TARGETS) targets.clear();
  targets.set(cacheKey, built ?? null);
  return built;
}

function buildTarget(url: string, extra: Record<string, string> | undefined): Target | undefined {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return undefined;
  }
  if (target.protocol !== "http:" || target.username !== "" || target.password !== "") return undefined;
  const headers: Record<string, string> = { accept: "application/json", ...extra };
  const lines = [`GET ${target.pathname}${target.search} HTTP/1.1`];
  let host: string | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) return undefined;
    const lower = name.toLowerCase();
    // node:http frames these itself; a caller setting them is unusual enough to leave to it.
    if (lower === "connection" || lower === "content-length" || lower === "transfer-encoding")
      return undefined;
    if (lower === "host") host = value;
    else lines.push(`${name}: ${value}`);
  }
  lines.splice(1, 0, `Host: ${host ?? target.host}`);
  lines.push("Connection: keep-alive", "", "");
  const hostname = target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname;
  const port = target.port === "" ? 80 : Number(target.port);
  return {
    key: `${hostname}:${port}`,
    host: hostname,
    port,
    request: Buffer.from(lines.join("\r\n"), "latin1"),
  };
}

/** One GET that never throws and never outlives `timeoutMs`; see the module comment. */
export function liteGet(url: string, options: LiteGetOptions): Promise<HttpResult> {
  return liteGetAs(url, options, asIs);
}

const asIs = (result: HttpResult): HttpResult => result;

/**
 * `liteGet(url, options).then((r) => as(r, url))` without the `then`'s promise and closure (a probe's
 * answer as its outcome: adapters/shared/probe.ts). `as` is called once, with the result; if it throws,
 * the promise rejects with that.
 */
export function liteGetAs<T>(
  url: string,
  options: LiteGetOptions,
  as: (result: HttpResult, url: string) => T,
): Promise<T> {
  const target = targetOf(url, options.headers);
  if (target === undefined) return httpRequest(url, { ...options, method: "GET" }).then((r) => as(r, url));
  return new Promise<T>((resolve, reject) =>
    new Exchange(url, target, options, resolve, reject, as).attempt(true),
  );
}

/**
 * Where every socket's bytes land (net's `onread`): read into one buffer and handed to the exchange, copied
 * only as far as they were read. The stream path (Readable.push, a `data` event, a fresh buffer per read)
 * ran as much JavaScript per probe as everything else the exchange does, and never gets hot enough at 10
 * probes a second for V8 to optimise it. Safe to share: the callback runs synchronously per read.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * One socket with its listeners attached once, for its whole life: they hand events to the exchange it
 * carries now (none while idle), instead of each exchange adding and removing four listeners.
 */
class Conn {
  readonly socket: net.Socket;
  busy = true;
  /** monotonicMs() after which the server said it closes idle sockets. */
  idleUntil = Number.POSITIVE_INFINITY;
  exchange: Exchange | undefined;
  /** Exchanges it has carried: one that is not its first may find it closed by the server (stale). */
  carried = 0;

  constructor(
    target: Target,
    /** The endpoint's kept socket (else a one-off for an exchange that found it busy). */
    readonly kept: boolean,
  ) {
    this.socket = net.connect({
      host: target.host,
      port: target.port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buffer: Uint8Array) => {
          this.exchange?.onRead(buffer as Buffer, n);
          return true;
        },
      },
    });
    // Errors reach the exchange in flight; an idle socket's reset is noticed by `close`. Never unhandled.
    this.socket.on("error", (err: NodeJS.ErrnoException) => this.exchange?.onError(err));
    this.socket.on("end", () => this.exchange?.onEnd());
    this.socket.on("close", () => {
      this.exchange?.onEnd();
      if (this.kept) forget(target.key, this);
    });
  }
}

/** Every exchange's deadline, behind one timer (http-lite-deadlines.ts). */
export const exchangeDeadlines = new Deadlines();

/** One GET: its attempts (the first, and one resend when a kept socket turns out stale), deadline and result. */
// biome-ignore lint/suspicious/noExplicitAny: the result's type is its caller's (`liteGetAs`); the class is internal
class Exchange<T = any> implements Expiring {
  private readonly started = monotonicMs();
  private readonly maxBody: number;
  private readonly timeoutMs: number;
  readonly deadline: number;
  private settled = false;
  private conn: Conn | undefined;
  /** The current attempt's, made at its first read that is not a repeat (see `Repeat`). */
  private parser: ResponseParser | undefined;
  private reused = false;
  private allowResend = false;

  constructor(
    private readonly url: string,
    private readonly target: Target,
    options: LiteGetOptions,
    private readonly resolve: (result: T) => void,
    private readonly reject: (error: unknown) => void,
    private readonly as: (result: HttpResult, url: string) => T,
  ) {
    this.maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.timeoutMs = options.timeoutMs;
    this.deadline = this.started + options.timeoutMs;
    exchangeDeadlines.add(this);
  }

  /** The deadline passed (exchangeDeadlines). */
  expire(): void {
    this.finish({
      kind: "timeout",
      message: `no answer from GET ${this.url} within ${this.timeoutMs} ms`,
      ms: this.elapsed(),
    });
  }

  private elapsed(): number {
    return monotonicMs() - this.started;
  }

  attempt(allowResend: boolean): void {
    const conn = acquire(this.target);
    this.conn = conn;
    this.reused = conn.carried > 0;
    conn.carried++;
    this.allowResend = allowResend;
    this.parser = undefined;
    conn.exchange = this;
    conn.socket.write(this.target.request);
  }

  /** Gives the socket back: kept for the next exchange when `keep`, else closed. */
  private detach(keep: boolean): void {
    const conn = this.conn;
    if (conn === undefined) return;
    this.conn = undefined;
    conn.exchange = undefined;
    release(this.target.key, conn, keep);
  }

  private finish(result: HttpResult, keep = false): void {
    if (this.settled) return;
    this.settled = true;
    exchangeDeadlines.remove(this);
    this.detach(keep);
    let value: T;
    try {
      value = this.as(result, this.url);
    } catch (error) {
      this.reject(error); // as a `then` would: the caller's promise, never the socket's callback
      return;
    }
    this.resolve(value);
  }

  /** Only a socket we kept from an earlier exchange can be stale; a fresh one's failures are real. */
  private stale(code: string | undefined): boolean {
    return (
      this.reused &&
      this.allowResend &&
      (this.parser?.received ?? 0) === 0 &&
      (code === undefined || STALE_SOCKET.has(code))
    );
  }

  private resend(): void {
    this.detach(false);
    this.attempt(false);
  }

  /** `buffer[0, n)` was read (the shared read buffer: valid only during this call). */
  onRead(buffer: Buffer, n: number): void {
    if (this.settled) return;
    const last = this.target.last;
    if (this.parser === undefined && last !== undefined && repeats(last, buffer, n)) {
      liteStats.repeats++;
      if (last.keepAlive && this.conn !== undefined) noteKeepAlive(this.conn, last.keepAliveMs);
      this.finish(
        { kind: "response", status: last.status, body: last.body, ms: this.elapsed() },
        last.keepAlive,
      );
      return;
    }
    // The parser keeps what it is given (a partial head, body chunks): give it its own copy.
    this.onData(Buffer.from(buffer.subarray(0, n)));
  }

  private onData(chunk: Buffer): void {
    const first = this.parser === undefined;
    this.parser ??= new ResponseParser(this.maxBody);
    const { parser, url } = this;
    const event = parser.feed(chunk);
    if (event.kind === "more") return;
    if (event.kind === "too_large") {
      this.finish({
        kind: "error",
        message: `body of GET ${url} exceeds ${this.maxBody} bytes`,
        ms: this.elapsed(),
      });
      return;
    }
    if (event.kind === "invalid") {
      this.finish({
        kind: "error",
        code: "HPE_INVALID_RESPONSE",
        message: `GET ${url}: Parse Error: ${event.reason}`,
        ms: this.elapsed(),
      });
      return;
    }
    const head = parser.head;
    if (head === undefined) return; // unreachable: "done" comes after a head
    if (event.keepAlive && this.conn !== undefined)
      noteKeepAlive(this.conn, keepAliveMs(head.headers.get("keep-alive")));
    const body = parser.bodyText();
    // Whole in one read: the next answer is compared with it (see `Repeat`).
    if (first) this.target.last = repeatOf(chunk, head, body, event.keepAlive);
    this.finish({ kind: "response", status: head.status, body, ms: this.elapsed() }, event.keepAlive);
  }

  onEnd(): void {
    if (this.settled) return;
    this.parser ??= new ResponseParser(this.maxBody);
    const { parser, url } = this;
    const event = parser.end();
    if (event.kind === "done" && parser.head !== undefined) {
      this.finish({
        kind: "response",
        status: parser.head.status,
        body: parser.bodyText(),
        ms: this.elapsed(),
      });
      return;
    }
    if (this.stale(undefined)) {
      this.resend();
      return;
    }
    this.finish(
      parser.head === undefined
        ? { kind: "error", code: "ECONNRESET", message: `GET ${url}: socket hang up`, ms: this.elapsed() }
        : { kind: "error", message: `GET ${url}: connection closed mid-body`, ms: this.elapsed() },
    );
  }

  onError(err: NodeJS.ErrnoException): void {
    if (this.settled) return;
    if (this.stale(err.code)) {
      this.resend();
      return;
    }
    if (this.parser !== undefined && this.parser.received > 0 && this.parser.head !== undefined) {
      this.finish({
        kind: "error",
        message: `GET ${this.url}: connection closed mid-body`,
        ms: this.elapsed(),
      });
      return;
    }
    this.finish(classifyError(err, "GET", this.url, this.elapsed()));
  }
}

/** The endpoint's kept socket when idle and still open, else a new connection (kept if none is). */
function acquire(target: Target): Conn {
  const idle = kept.get(target.key);
  if (idle !== undefined && !idle.busy) {
    if (!idle.socket.destroyed && idle.socket.writable && monotonicMs() < idle.idleUntil) {
      idle.busy = true;
      idle.socket.ref();
      return idle;
    }
    forget(target.key, idle);
  }
  // Another exchange holds the endpoint's socket: this one gets a connection of its own.
  if (kept.has(target.key)) return new Conn(target, false);
  const conn = new Conn(target, true);
  kept.set(target.key, conn);
  return conn;
}

function release(key: string, conn: Conn, keep: boolean): void {
  conn.busy = false;
  if (!conn.kept || !keep || conn.socket.destroyed) {
    if (conn.kept) forget(key, conn);
    else conn.socket.destroy();
    return;
  }
  // An idle kept socket must not hold the daemon (or a test) open.
  conn.socket.unref();
}

function forget(key: string, conn: Conn): void {
  conn.socket.destroy();
  if (kept.get(key) === conn) kept.delete(key);
}

/** How long a server keeps an idle socket, from its `Keep-Alive` header; undefined: it does not say. */
function keepAliveMs(hint: string | undefined): number | undefined {
  const seconds = hint === undefined ? undefined : /\btimeout=(\d+)/i.exec(hint)?.[1];
  return seconds === undefined ? undefined : Math.max(0, Number(seconds) * 1000 - KEEP_ALIVE_MARGIN_MS);
}

function noteKeepAlive(conn: Conn, idleMs: number | undefined): void {
  if (!conn.kept) return;
  conn.idleUntil = idleMs === undefined ? Number.POSITIVE_INFINITY : monotonicMs() + idleMs;
}

/** Closes every kept socket (tests, shutdown). */
export function closeKeptSockets(): void {
  for (const [key, conn] of kept) forget(key, conn);
}
