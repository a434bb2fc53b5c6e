/** Small response and request helpers for the observability routes. */
import type http from "node:http";
import { isRmxError } from "../../base/errors.js";

const MAX_BODY_BYTES = 16 * 1024;

/** Security headers every answer carries: no framing, no sniffing, nothing loaded from elsewhere. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export function send(
  res: http.ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...BASE_HEADERS, "content-type": type, ...headers });
  res.end(body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

const STATUS_OF: Record<string, number> = {
  RUNTIME_NOT_FOUND: 404,
  MODEL_MISSING: 404,
  BUDGET_EXHAUSTED: 409,
  RUNTIME_BUSY: 409,
  MODEL_DOES_NOT_FIT: 409,
  SANDBOX_UNAVAILABLE: 409,
  HARDWARE_UNKNOWN: 400,
  INVALID_PARAMS: 400,
};

/** An error as `{error: {code, message, data}}` with the HTTP status its code maps to. */
export function sendError(res: http.ServerResponse, error: unknown): void {
  if (isRmxError(error) || error instanceof InvalidParams) {
    const body = error instanceof InvalidParams ? error.toJSON() : error.toJSON();
    sendJson(res, STATUS_OF[body.code] ?? 500, { error: body });
    return;
  }
  sendJson(res, 500, { error: { code: "INTERNAL", message: String((error as Error)?.message ?? error) } });
}

/** Params refused by a socket method's schema; the message names every failing field. */
export class InvalidParams extends Error {
  constructor(
    message: string,
    readonly issues: unknown,
  ) {
    super(message);
  }
  toJSON(): { code: string; message: string; data: Record<string, unknown> } {
    return { code: "INVALID_PARAMS", message: this.message, data: { issues: this.issues } };
  }
}

/** The request body as JSON, at most 16 KiB. */
export async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new InvalidParams(`request body is over ${MAX_BODY_BYTES} bytes`, [{ path: "body" }]);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidParams(`request body is not JSON: ${(error as Error).message}`, [{ path: "body" }]);
  }
}

/** Opens a server-sent-events stream; comments keep proxies from closing it. Returns the writer. */
export function openSse(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  onClose: () => void,
): (event: string, data: unknown) => void {
  res.writeHead(200, {
    ...BASE_HEADERS,
    "content-type": "text/event-stream; charset=utf-8",
    connection: "keep-alive",
  });
  res.write(": rmx\n\n");
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  keepAlive.unref();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    onClose();
  };
  req.on("close", close);
  res.on("close", close);
  return (event, data) => {
    if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
}
