/**
 * Incremental parser of one HTTP/1.1 response to a GET: status line, headers, then a body framed by
 * Content-Length, chunked transfer coding (extensions and trailers skipped) or the connection's end.
 * Pure: bytes in, a state out; the socket, timers and retries are http-lite.ts's. With a `BodySink` (the
 * gateway's upstream leg, daemon/http/upstream-exchange.ts) the head is reported as soon as it is parsed
 * and the body is handed on piece by piece instead of kept.
 */

/** llhttp's default limit (node's --max-http-header-size): a head larger than this is refused. */
export const MAX_HEAD_BYTES = 16 * 1024;

export type ParseEvent =
  | { kind: "more" }
  /** The response is whole. `keepAlive`: the socket may carry the next request. */
  | { kind: "done"; keepAlive: boolean }
  | { kind: "too_large" }
  | { kind: "invalid"; reason: string };

export interface ParsedHead {
  status: number;
  /** Lower-cased names; repeated headers joined with ", " (node's rule for most). */
  headers: Map<string, string>;
}

/** Where a streaming parse reports to; see the module comment. */
export interface BodySink {
  /** The final (non-1xx) head, before any of its body. */
  head(head: ParsedHead): void;
  /** A piece of the body as it arrived, its chunked framing removed; never empty. */
  body(piece: Buffer): void;
}

type Phase = "head" | "length" | "chunk_size" | "chunk_data" | "chunk_crlf" | "trailers" | "eof" | "done";

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;
/** Shared, never written: a parse of a streamed answer makes none per piece (nor per event below). */
const EMPTY = Buffer.alloc(0);
const MORE: ParseEvent = Object.freeze({ kind: "more" });
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class ResponseParser {
  head: ParsedHead | undefined;
  private phase: Phase = "head";
  private pending: Buffer = EMPTY;
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  private remaining = 0;
  private keepAlive = true;
  /** Bytes of the response seen so far: a reused socket that closes before any is stale, not failed. */
  received = 0;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly sink?: BodySink,
  ) {}

  bodyText(): string {
    return Buffer.concat(this.body, this.bodyBytes).toString("utf8");
  }

  /** The socket ended: completes a body read to the end, anything else is cut short (`more`). */
  end(): ParseEvent {
    if (this.phase === "eof") {
      this.phase = "done";
      return { kind: "done", keepAlive: false };
    }
    return this.phase === "done" ? { kind: "done", keepAlive: this.keepAlive } : MORE;
  }

  feed(chunk: Buffer): ParseEvent {
    this.received += chunk.length;
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = EMPTY;
    while (data.length > 0) {
      const step = this.step(data);
      if (typeof step !== "number") return step;
      if (step === 0) {
        this.pending = data;
        if (this.phase === "head" && data.length > MAX_HEAD_BYTES) return invalid("header overflow");
        if (this.pending.length > MAX_HEAD_BYTES) return invalid("chunk header or trailer overflow");
        return MORE;
      }
      data = data.subarray(step);
    }
    if (this.phase === "done") return { kind: "done", keepAlive: this.keepAlive };
    return MORE;
  }

  /** Consumes from `data`: the bytes used (0 = needs more), or a final event. */
  private step(data: Buffer): number | ParseEvent {
    switch (this.phase) {
      case "head":
        return this.parseHead(data);
      case "length": {
        const n = Math.min(this.remaining, data.length);
        const over = this.take(data.subarray(0, n));
        if (over) return over;
        this.remaining -= n;
        if (this.remaining === 0) this.phase = "done";
        return n;
      }
      case "eof": {
        const over = this.take(data);
        return over ?? data.length;
      }
      case "chunk_size": {
        const eol = data.indexOf("\r\n");
        if (eol < 0) return 0;
        const size = chunkSize(data, eol);
        if (size === undefined) return invalid("invalid chunk size");
        this.remaining = size;
        this.phase = size === 0 ? "trailers" : "chunk_data";
        return eol + 2;
      }
      case "chunk_data": {
        const n = Math.min(this.remaining, data.length);
        const over = this.take(data.subarray(0, n));
        if (over) return over;
        this.remaining -= n;
        if (this.remaining === 0) this.phase = "chunk_crlf";
        return n;
      }
      case "chunk_crlf": {
        if (data.length < 2) return 0;
        if (data[0] !== 13 || data[1] !== 10) return invalid("chunk data not followed by CRLF");
        this.phase = "chunk_size";
        return 2;
      }
      case "trailers": {
        const eol = data.indexOf("\r\n");
        if (eol < 0) return 0;
        if (eol === 0) this.phase = "done";
        return eol + 2;
      }
      case "done":
        // Bytes after the response: the server is pipelining or confused; never reuse the socket.
        this.keepAlive = false;
        return data.length;
    }
  }

  private take(bytes: Buffer): ParseEvent | undefined {
    this.bodyBytes += bytes.length;
    if (this.bodyBytes > this.maxBodyBytes) return { kind: "too_large" };
    if (bytes.length === 0) return undefined;
    if (this.sink === undefined) this.body.push(bytes);
    else this.sink.body(bytes);
    return undefined;
  }

  private parseHead(data: Buffer): number | ParseEvent {
    const end = data.indexOf("\r\n\r\n");
    if (end < 0) return 0;
    if (end > MAX_HEAD_BYTES) return invalid("header overflow");
    const lines = data.toString("latin1", 0, end).split("\r\n");
    const status = STATUS_LINE.exec(lines[0] ?? "");
    if (!status) return invalid(`invalid status line ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
    const minor = status[1];
    const code = Number(status[2]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      if (!TOKEN.test(name)) return invalid(`invalid header line ${JSON.stringify(line.slice(0, 80))}`);
      const key = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prior = headers.get(key);
      headers.set(key, prior === undefined ? value : `${prior}, ${value}`);
    }
    const used = end + 4;
    // 1xx (100 Continue, 103 Early Hints) precede the real answer: skip them, as node's client does.
    if (code >= 100 && code < 200) return used;
    this.head = { status: code, headers };
    const connection = (headers.get("connection") ?? "").toLowerCase();
    this.keepAlive = minor === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const coding = (headers.get("transfer-encoding") ?? "").toLowerCase();
    const length = headers.get("content-length");
    if (code === 204 || code === 304) this.phase = "done";
    else if (/(?:^|,)\s*chunked\s*$/.test(coding)) this.phase = "chunk_size";
    else if (length !== undefined) {
      if (!/^\d+$/.test(length)) return invalid(`invalid Content-Length ${JSON.stringify(length)}`);
      this.remaining = Number(length);
      if (this.remaining > this.maxBodyBytes) return { kind: "too_large" };
      this.phase = this.remaining === 0 ? "done" : "length";
    } else {
      this.phase = "eof";
      this.keepAlive = false;
    }
    this.sink?.head(this.head);
    return used;
  }
}

/**
 * The size of a chunk-size line `data[0, eol)`: hex digits, optional spaces or tabs, an optional
 * `;extension` (no CR or LF in it); undefined when it is not one or not a safe integer. By hand, not
 * a regex on a string: a stream's every token is one chunk.
 */
function chunkSize(data: Buffer, eol: number): number | undefined {
  let size = 0;
  let i = 0;
  for (; i < eol; i++) {
    const c = data[i] as number;
    const digit =
      c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) break;
    size = size * 16 + digit;
  }
  if (i === 0 || !Number.isSafeInteger(size)) return undefined;
  while (i < eol && (data[i] === 32 || data[i] === 9)) i++;
  if (i === eol) return size;
  if (data[i] !== 59) return undefined;
  for (i++; i < eol; i++) if (data[i] === 10 || data[i] === 13) return undefined;
  return size;
}

function invalid(reason: string): ParseEvent {
  return { kind: "invalid", reason };
}
