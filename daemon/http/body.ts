/**
 * A request body, bounded: at most `maxBytes` (413 beyond, checked against Content-Length before reading),
 * and at most `idleMs` between two chunks (408), so a slow-loris body cannot hold a connection open.
 */
import type http from "node:http";
import type { GatewayError } from "./answer.js";

export type BodyResult = { ok: true; body: Buffer } | { ok: false; error: GatewayError };

export function readBody(req: http.IncomingMessage, maxBytes: number, idleMs: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve(tooLarge(maxBytes));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: BodyResult) => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onError);
      resolve(result);
    };
    const arm = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(
        () =>
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
        idleMs,
      );
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        finish(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
      arm();
    };
    const onEnd = () =>
      finish({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
    const onError = () =>
      finish({
        ok: false,
        error: {
          status: 400,
          type: "invalid_request_error",
          code: "aborted",
          message: "request aborted",
          klass: "aborted",
        },
      });
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onError);
    arm();
  });
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
