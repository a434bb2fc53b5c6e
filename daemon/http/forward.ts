/**
 * One request forwarded to a backend, its answer passed through to the client byte for byte (plain JSON
 * or server-sent events alike). Backpressure: when the client's socket is full (`write` returns false) the
 * backend's response is paused until `drain`, so a client that does not read slows the backend instead of
 * filling the daemon's memory. A client that goes away destroys the backend request, which frees the
 * backend's slot. Until the first byte is sent to the client, a failure comes back as `retry` so the
 * caller may try another cell; after it, the answer is cut.
 */
import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";

export interface ForwardRequest {
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
  /** Longest silence from the backend (connect, headers, or between two chunks). */
  idleTimeoutMs: number;
  /** Extra headers of the answer (X-Rmx-Cell, CORS). */
  answerHeaders: Record<string, string>;
}

export type ForwardOutcome =
  /** Nothing reached the client: another cell may answer. */
  | { kind: "retry"; status?: number; message: string; timedOut: boolean }
  /** The backend answered this (4xx) and nothing was sent: the caller decides what the client sees. */
  | { kind: "refused"; status: number; body: string }
  | { kind: "done"; status: number; ttfbMs?: number; bytes: number }
  | { kind: "aborted"; ttfbMs?: number }
  | { kind: "broken"; message: string; ttfbMs?: number };

/** Keep-alive pools: a fresh TCP connection per request would cost more than the whole gateway. */
const agents = {
  "http:": new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: "lifo" }),
  "https:": new https.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: "lifo" }),
};

const MAX_ERROR_BODY = 64 * 1024;

/** Response headers of the backend that are passed on; hop-by-hop and length ones are Node's to set. */
const PASSED_HEADERS = ["content-type", "content-length", "cache-control"];

export function forward(
  client: http.ServerResponse,
  req: ForwardRequest,
  passStatus: (status: number) => boolean,
): Promise<ForwardOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let sent = false;
    let ttfbMs: number | undefined;
    let bytes = 0;
    const settle = (outcome: ForwardOutcome) => {
      if (settled) return;
      settled = true;
      client.off("close", onClientClose);
      resolve(outcome);
    };
    const transport = req.url.protocol === "https:" ? https : http;
    const upstream = transport.request(req.url, {
      method: "POST",
      agent: agents[req.url.protocol === "https:" ? "https:" : "http:"],
      headers: {
        ...req.headers,
        "content-type": "application/json",
        "content-length": String(req.body.length),
      },
    });
    const onClientClose = () => {
      if (client.writableFinished) return;
      upstream.destroy();
      settle(ttfbMs === undefined ? { kind: "aborted" } : { kind: "aborted", ttfbMs });
    };
    client.on("close", onClientClose);
    upstream.setTimeout(req.idleTimeoutMs, () => {
      upstream.destroy(new Error(`no data from the backend for ${req.idleTimeoutMs} ms`));
    });
    upstream.on("error", (error) => {
      const message = `POST ${req.url.origin}${req.url.pathname}: ${error.message || (error as NodeJS.ErrnoException).code}`;
      if (!sent) settle({ kind: "retry", message, timedOut: error.message.startsWith("no data") });
      else {
        client.destroy();
        settle({ kind: "broken", message, ...(ttfbMs === undefined ? {} : { ttfbMs }) });
      }
    });
    upstream.on("response", (response) => {
      const status = response.statusCode ?? 502;
      if (!passStatus(status)) {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          if (text.length < MAX_ERROR_BODY) text += chunk;
        });
        response.on("end", () => {
          if (status >= 500)
            settle({
              kind: "retry",
              status,
              message: `HTTP ${status}: ${text.slice(0, 300)}`,
              timedOut: false,
            });
          else settle({ kind: "refused", status, body: text });
        });
        response.on("error", () =>
          settle({ kind: "retry", status, message: `HTTP ${status} (body cut)`, timedOut: false }),
        );
        return;
      }
      const headers: Record<string, string> = { ...req.answerHeaders };
      for (const name of PASSED_HEADERS) {
        const value = response.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      client.writeHead(status, headers);
      sent = true;
      // Headers otherwise leave with the first chunk: a stream's client sees it begin at once.
      if (headers["content-type"]?.includes("event-stream") === true) client.flushHeaders();
      response.on("data", (chunk: Buffer) => {
        if (ttfbMs === undefined) ttfbMs = performance.now() - started;
        bytes += chunk.length;
        if (!client.write(chunk)) {
          response.pause();
          client.once("drain", () => response.resume());
        }
      });
      response.on("end", () => {
        client.end();
        settle({ kind: "done", status, bytes, ...(ttfbMs === undefined ? {} : { ttfbMs }) });
      });
      response.on("aborted", () => {
        client.destroy();
        settle({
          kind: "broken",
          message: "the backend closed the answer mid-stream",
          ...(ttfbMs === undefined ? {} : { ttfbMs }),
        });
      });
      response.on("error", (error) => {
        client.destroy();
        settle({ kind: "broken", message: error.message, ...(ttfbMs === undefined ? {} : { ttfbMs }) });
      });
    });
    upstream.end(req.body);
  });
}
