/**
 * forward() on node:http / node:https: the backends the lean client (upstream-exchange.ts) does not speak
 * (https, headers it leaves to node). Same outcomes and rules; see forward.ts.
 */
import http from "node:http";
import { lazyHttps, lazyHttpsAgent } from "../../adapters/shared/lazy-https.js";
import { monotonicMs } from "../../base/monotonic.js";
import { PASSED_HEADERS } from "./upstream-exchange.js";
import type { ForwardOutcome, ForwardRequest } from "./upstream-types.js";

/**
 * Keep-alive pools: a fresh TCP connection per request would cost more than the whole gateway. LIFO
 * reuses the warmest socket; no Nagle delay on a request or a streamed token.
 */
const httpAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: "lifo", noDelay: true });
const httpsAgent = lazyHttpsAgent({
  keepAlive: true,
  maxFreeSockets: 64,
  scheduling: "lifo",
  noDelay: true,
});

const MAX_ERROR_BODY = 64 * 1024;

export function forwardNode(
  client: http.ServerResponse,
  req: ForwardRequest,
  passStatus: (status: number) => boolean,
): Promise<ForwardOutcome> {
  const started = monotonicMs();
  const { target } = req;
  return new Promise((resolve) => {
    let settled = false;
    let sent = false;
    let ttfbMs: number | undefined;
    const settle = (outcome: ForwardOutcome) => {
      if (settled) return;
      settled = true;
      client.off("close", onClientClose);
      resolve(outcome);
    };
    const upstream = (target.https ? lazyHttps() : http).request({
      host: target.hostname,
      port: target.port,
      path: target.path,
      method: "POST",
      agent: target.https ? httpsAgent() : httpAgent,
      headers: { ...target.headers, "content-length": req.body.length },
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
      const message = `${target.label}: ${error.message || (error as NodeJS.ErrnoException).code}`;
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
      const headers: Record<string, string> = { ...req.answerHeaders, "x-rmx-cell": req.cell };
      for (const name of PASSED_HEADERS) {
        const value = response.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      client.writeHead(status, headers);
      sent = true;
      // A stream's client sees it begin at once: its headers leave with a first chunk that came with them
      // (one write, as a plain proxy sends it), else alone right after (a model may think for seconds).
      // Not `headersSent`: that is true from writeHead on, before a byte has left.
      if (headers["content-type"]?.includes("event-stream") === true)
        setImmediate(() => {
          if (ttfbMs === undefined && !client.destroyed) client.flushHeaders();
        });
      // Bytes pass through untouched: no chunk is parsed. The first one is the time to first token.
      const resume = () => response.resume();
      response.on("data", (chunk: Buffer) => {
        if (ttfbMs === undefined) ttfbMs = monotonicMs() - started;
        if (!client.write(chunk)) {
          response.pause();
          client.once("drain", resume);
        }
      });
      response.on("end", () => {
        client.end();
        settle(ttfbMs === undefined ? { kind: "done", status } : { kind: "done", status, ttfbMs });
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
