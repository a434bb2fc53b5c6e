/**
 * The GET client of probes and scrapes: HTTP/1.1 keep-alive on `node:net`, one persistent socket per
 * endpoint. 50 runtimes probed every 5 s cost node:http (agent, ClientRequest, IncomingMessage, header
 * objects, llhttp) more CPU than the daemon's whole budget; this sends pre-built request bytes and
 * parses the few framings a GET answer has. Same results as httpRequest (kinds, statuses, bodies,
 * messages); anything it does not handle (https, a caller's abort signal, unusual headers) goes to
 * httpRequest.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import { classifyError, type HttpResult, httpRequest } from "./http.js";
import { ResponseParser } from "./http-lite-parse.js";

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
 * every probe a new connection (connect, write, close: most of the daemon's quiet CPU). Losing the race
 * at the edge costs one resend on a fresh socket, never a failed probe.
 */
const KEEP_ALIVE_MARGIN_MS = 0;

interface Target {
  key: string;
  host: string;
  port: number;
  request: Buffer;
}

/** An endpoint's kept socket: idle between exchanges, carrying at most one (no pipelining). */
interface Kept {
  socket: net.Socket;
  busy: boolean;
  /** performance.now() after which the server said it closes idle sockets. */
  idleUntil: number;
}

const kept = new Map<string, Kept>();
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
  const target = targetOf(url, options.headers);
  if (target === undefined) return httpRequest(url, { ...options, method: "GET" });
  return exchange(url, target, options);
}

function exchange(url: string, target: Target, options: LiteGetOptions): Promise<HttpResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  return new Promise((resolve) => {
    let settled = false;
    let current: { socket: net.Socket; release: (keep: boolean) => void } | undefined;
    const finish = (result: HttpResult, keep = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      current?.release(keep);
      current = undefined;
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish({
        kind: "timeout",
        message: `no answer from GET ${url} within ${options.timeoutMs} ms`,
        ms: elapsed(),
      });
    }, options.timeoutMs);

    const attempt = (allowResend: boolean) => {
      const { socket, reused, release } = acquire(target);
      current = { socket, release };
      const parser = new ResponseParser(maxBody);
      // Only a socket we kept from an earlier exchange can be stale; a fresh one's failures are real.
      const stale = (code: string | undefined) =>
        reused && allowResend && parser.received === 0 && (code === undefined || STALE_SOCKET.has(code));
      const resend = () => {
        detach();
        release(false);
        current = undefined;
        attempt(false);
      };
      const onData = (chunk: Buffer) => {
        const event = parser.feed(chunk);
        if (event.kind === "more") return;
        if (event.kind === "too_large") {
          finish({ kind: "error", message: `body of GET ${url} exceeds ${maxBody} bytes`, ms: elapsed() });
          return;
        }
        if (event.kind === "invalid") {
          finish({
            kind: "error",
            code: "HPE_INVALID_RESPONSE",
            message: `GET ${url}: Parse Error: ${event.reason}`,
            ms: elapsed(),
          });
          return;
        }
        detach();
        const head = parser.head;
        if (head === undefined) return; // unreachable: "done" comes after a head
        if (event.keepAlive) noteKeepAlive(target.key, socket, head.headers.get("keep-alive"));
        finish(
          { kind: "response", status: head.status, body: parser.bodyText(), ms: elapsed() },
          event.keepAlive,
        );
      };
      const onEnd = () => {
        if (settled) return;
        const event = parser.end();
        if (event.kind === "done" && parser.head !== undefined) {
          finish({ kind: "response", status: parser.head.status, body: parser.bodyText(), ms: elapsed() });
          return;
        }
        if (stale(undefined)) return resend();
        finish(
          parser.head === undefined
            ? { kind: "error", code: "ECONNRESET", message: `GET ${url}: socket hang up`, ms: elapsed() }
            : { kind: "error", message: `GET ${url}: connection closed mid-body`, ms: elapsed() },
        );
      };
      const onError = (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (stale(err.code)) return resend();
        if (parser.received > 0 && parser.head !== undefined) {
          finish({ kind: "error", message: `GET ${url}: connection closed mid-body`, ms: elapsed() });
          return;
        }
        finish(classifyError(err, "GET", url, elapsed()));
      };
      const detach = () => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.off("close", onEnd);
        socket.off("error", onError);
      };
      socket.on("data", onData);
      socket.on("end", onEnd);
      socket.on("close", onEnd);
      socket.on("error", onError);
      socket.write(target.request);
    };
    attempt(true);
  });
}

/** The endpoint's kept socket when idle and still open, else a new connection (kept if none is). */
function acquire(target: Target): {
  socket: net.Socket;
  reused: boolean;
  release: (keep: boolean) => void;
} {
  const idle = kept.get(target.key);
  if (idle !== undefined && !idle.busy) {
    if (!idle.socket.destroyed && idle.socket.writable && performance.now() < idle.idleUntil) {
      idle.busy = true;
      idle.socket.ref();
      return { socket: idle.socket, reused: true, release: (keep) => releaseKept(target.key, idle, keep) };
    }
    forget(target.key, idle);
  }
  const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
  if (kept.has(target.key)) {
    // Another exchange holds the endpoint's socket: this one gets a connection of its own.
    return { socket, reused: false, release: () => socket.destroy() };
  }
  const entry: Kept = { socket, busy: true, idleUntil: Number.POSITIVE_INFINITY };
  kept.set(target.key, entry);
  socket.on("error", () => {}); // an idle socket's reset is noticed by `close`; never unhandled
  socket.once("close", () => forget(target.key, entry));
  return { socket, reused: false, release: (keep) => releaseKept(target.key, entry, keep) };
}

function releaseKept(key: string, entry: Kept, keep: boolean): void {
  entry.busy = false;
  if (!keep || entry.socket.destroyed) {
    forget(key, entry);
    return;
  }
  // An idle kept socket must not hold the daemon (or a test) open.
  entry.socket.unref();
}

function forget(key: string, entry: Kept): void {
  entry.socket.destroy();
  if (kept.get(key) === entry) kept.delete(key);
}

function noteKeepAlive(key: string, socket: net.Socket, hint: string | undefined): void {
  const entry = kept.get(key);
  if (entry === undefined || entry.socket !== socket) return;
  const seconds = hint === undefined ? undefined : /\btimeout=(\d+)/i.exec(hint)?.[1];
  entry.idleUntil =
    seconds === undefined
      ? Number.POSITIVE_INFINITY
      : performance.now() + Math.max(0, Number(seconds) * 1000 - KEEP_ALIVE_MARGIN_MS);
}

/** Closes every kept socket (tests, shutdown). */
export function closeKeptSockets(): void {
  for (const [key, entry] of kept) forget(key, entry);
}
