import http from "node:http";
import { monotonicMs } from "../../base/monotonic.js";
import { lazyHttps, lazyHttpsAgent } from "./lazy-https.js";

export interface HttpRequestOptions {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  /** A string or a Buffer is sent as is; anything else as JSON. */
  body?: unknown;
  /** Hard limit on the whole exchange: connect, send, and read the full body. */
  timeoutMs: number;
  /** Bodies larger than this fail with kind `error` (default 4 MiB). */
  maxBodyBytes?: number;
  /** Aborting it ends the exchange at once with kind `error`, code `ABORTED` (the caller has gone). */
  signal?: AbortSignal;
}

export type HttpFailureKind = "refused" | "timeout" | "error";

export type HttpResult =
  | { kind: "response"; status: number; body: string; ms: number }
  | { kind: HttpFailureKind; message: string; ms: number; code?: string };

const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

/**
 * GETs (health probes, /metrics scrapes: small, idempotent, every few seconds per runtime) reuse
 * connections: no TCP handshake and no new socket per probe. A pooled socket can be stale (its backend
 * died or restarted on the same port, or the server's keep-alive timer closed it just as we sent):
 * such a GET is sent once more on a fresh connection, so a probe never fails for a socket we chose
 * to keep. POSTs (inference) get a connection of their own, as before.
 */
const keepAlive = { keepAlive: true, maxSockets: 4, maxFreeSockets: 1, scheduling: "lifo" } as const;
const httpAgent = new http.Agent(keepAlive);
const httpsAgent = lazyHttpsAgent(keepAlive);
/** What a server's close of an idle pooled socket looks like to the next request on it. */
const STALE_SOCKET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** One HTTP exchange that never throws and never outlives `timeoutMs` (retries included). */
export function httpRequest(url: string, options: HttpRequestOptions): Promise<HttpResult> {
  const method = options.method ?? (options.body === undefined ? "GET" : "POST");
  const started = monotonicMs();
  const elapsed = () => monotonicMs() - started;
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let unlisten = () => {};
    const finish = (result: HttpResult) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      unlisten();
      resolve(result);
    };

    let target: URL;
    try {
      target = new URL(url);
    } catch {
      finish({ kind: "error", message: `invalid URL ${JSON.stringify(url)}`, ms: elapsed() });
      return;
    }
    const transport =
      target.protocol === "https:" ? lazyHttps() : target.protocol === "http:" ? http : undefined;
    if (transport === undefined) {
      finish({ kind: "error", message: `unsupported protocol ${target.protocol} in ${url}`, ms: elapsed() });
      return;
    }

    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      // A Buffer is sent as it is (multipart uploads); its caller sets the content type.
      const raw = Buffer.isBuffer(options.body);
      const isText = raw || typeof options.body === "string";
      payload = raw
        ? (options.body as Buffer)
        : Buffer.from(isText ? (options.body as string) : JSON.stringify(options.body), "utf8");
      if (!isText && headers["content-type"] === undefined) headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }

    const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const pooled = method === "GET";
    const agent = pooled ? (transport === http ? httpAgent : httpsAgent()) : false;
    let request: http.ClientRequest;
    const send = (fresh: boolean) => {
      request = transport.request(target, { method, headers, agent: fresh ? false : agent }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBody) {
            finish({
              kind: "error",
              message: `body of ${method} ${url} exceeds ${maxBody} bytes`,
              ms: elapsed(),
            });
            request.destroy();
            return;
          }
          chunks.push(chunk);
        });
        response.on("end", () =>
          finish({
            kind: "response",
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            ms: elapsed(),
          }),
        );
        response.on("error", (err) => finish(classifyError(err, method, url, elapsed())));
        response.on("aborted", () =>
          finish({ kind: "error", message: `${method} ${url}: connection closed mid-body`, ms: elapsed() }),
        );
      });
      const sent = request;
      sent.on("error", (err) => {
        if (settled) return;
        if (pooled && !fresh && sent.reusedSocket && STALE_SOCKET.has(errorCode(err) ?? "")) send(true);
        else finish(classifyError(err, method, url, elapsed()));
      });
      sent.end(payload);
    };
    send(false);
    timer = setTimeout(() => {
      finish({
        kind: "timeout",
        message: `no answer from ${method} ${url} within ${options.timeoutMs} ms`,
        ms: elapsed(),
      });
      request.destroy();
    }, options.timeoutMs);
    const { signal } = options;
    if (signal !== undefined) {
      const onAbort = () => {
        finish({
          kind: "error",
          code: "ABORTED",
          message: `${method} ${url}: aborted by the caller`,
          ms: elapsed(),
        });
        request.destroy();
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      unlisten = () => signal.removeEventListener("abort", onAbort);
    }
  });
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code;
  // Happy-eyeballs connects report an AggregateError whose members carry the codes.
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) {
    const codes = inner.map(errorCode);
    if (codes.length > 0 && codes.every((c) => c === codes[0])) return codes[0];
  }
  return undefined;
}

export function classifyError(err: unknown, method: string, url: string, ms: number): HttpResult {
  const code = errorCode(err);
  const text = err instanceof Error && err.message !== "" ? err.message : (code ?? String(err));
  const message = `${method} ${url}: ${text}`;
  if (code === "ECONNREFUSED") return { kind: "refused", message, ms, code };
  if (code === "ETIMEDOUT") return { kind: "timeout", message, ms, code };
  return code === undefined ? { kind: "error", message, ms } : { kind: "error", message, ms, code };
}
