/**
 * A request body, bounded: at most `maxBytes` (413 beyond, checked against Content-Length before reading),
 * and at most `idleMs` between two chunks (408), so a slow-loris body cannot hold a connection open.
 */
import type http from "node:http";
import { monotonicMs } from "../../base/monotonic.js";
import type { GatewayError } from "./answer.js";
import { idleWatch, Watched } from "./idle-watch.js";

/** A client that went away mid-body sent a truncated one (400 `aborted`; nobody may be left to read it). */
export function aborted(message: string): GatewayError {
  return { status: 400, type: "invalid_request_error", code: "aborted", message, klass: "aborted" };
}

export type BodyResult = { ok: true; body: Buffer } | { ok: false; error: GatewayError };

export function readBody(req: http.IncomingMessage, maxBytes: number, idleMs: number): Promise<BodyResult> {
  return new Promise((resolve) => readBodyThen(req, maxBytes, idleMs, resolve));
}

/**
 * readBody with a callback: the gateway's inference path goes on in the callback itself, not a microtask
 * later. `done` runs once, synchronously when Content-Length already refuses the body. A body with a
 * Content-Length is done at the chunk that completes it (node emits it as it parses the packet, nearly
 * always the headers' own), not a tick later at `end`; a chunked one at `end`.
 */
export function readBodyThen(
  req: http.IncomingMessage,
  maxBytes: number,
  idleMs: number,
  done: (result: BodyResult) => void,
): void {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    done(tooLarge(maxBytes));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  // The idle time is watched on one timer shared by every body (idle-watch.ts), not on a timer per
  // body: the body is parsed after the request is handed over, so nearly every request armed one.
  const watch = idleWatch(idleMs);
  const watched = new Watched(monotonicMs(), () =>
    finish({
      ok: false,
      error: {
        status: 408,
        type: "invalid_request_error",
        code: "body_timeout",
        message: `request body stalled: no data for ${idleMs} ms (http.body_timeout)`,
        klass: "client",
      },
    }),
  );
  const finish = (result: BodyResult) => {
    if (settled) return;
    settled = true;
    watch.delete(watched);
    // The listeners stay: they do nothing once done (removing four per request cost more than they
    // do), and a `data` listener left on a refused body lets it drain instead of stalling the socket.
    done(result);
  };
  const onData = (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > maxBytes) {
      finish(tooLarge(maxBytes));
      return;
    }
    chunks.push(chunk);
    // All the declared bytes are in (llhttp passes no more): the body is whole now, a tick before `end`.
    if (size === declared) onEnd();
    else watched.lastData = monotonicMs();
  };
  const onEnd = () =>
    finish({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
  const onError = () => finish({ ok: false, error: aborted("request aborted") });
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
  req.on("aborted", onError);
  if (!req.complete) watch.add(watched);
}

function tooLarge(maxBytes: number): BodyResult {
  return {
    ok: false,
    error: {
      status: 413,
      type: "invalid_request_error",
      code: "body_too_large",
      message: `request body is larger than ${maxBytes} bytes (http.max_body)`,
      klass: "client",
    },
  };
}
