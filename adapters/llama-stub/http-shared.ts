import type http from "node:http";
import { readCappedBody } from "../shared/read-body.js";

/** Headers b4748 (cpp-httplib) puts on every answer: `Server`, and the request's `Origin` echoed (or empty). */
export function baseHeaders(req: http.IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  return { Server: "llama.cpp", "Access-Control-Allow-Origin": typeof origin === "string" ? origin : "" };
}

/** cpp-httplib's keep-alive answer: `Keep-Alive: timeout=5, max=100` (Node alone says `timeout=5`). */
function keepAlive(req: http.IncomingMessage): Record<string, string> {
  const connection = String(req.headers.connection ?? "").toLowerCase();
  const keep = req.httpVersion === "1.1" ? connection !== "close" : connection === "keep-alive";
  return keep ? { Connection: "keep-alive", "Keep-Alive": "timeout=5, max=100" } : {};
}

export function sendBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "Content-Type": contentType,
    ...baseHeaders(req),
    ...keepAlive(req),
    ...extra,
    "Content-Length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

export function sendJson(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  body: unknown,
): void {
  sendBody(req, res, status, "application/json; charset=utf-8", JSON.stringify(body));
}

export function sendError(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  type: string,
  message: string,
): void {
  sendJson(req, res, status, { error: { code: status, message, type } });
}

export function startSse(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { "Content-Type": "text/event-stream", ...baseHeaders(req), ...keepAlive(req) });
}

export function sseWrite(res: http.ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

/** A request error with the status and type b4748 answers it with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** nlohmann::json's exceptions surface as 500 `server_error` in b4748's handlers. */
export const jsonError = (message: string) => new HttpError(500, "server_error", message);

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function readBody(req: http.IncomingMessage): Promise<string> {
  const tooLarge = () =>
    new HttpError(400, "invalid_request_error", `request body exceeds ${MAX_BODY_BYTES} bytes`);
  return (await readCappedBody(req, MAX_BODY_BYTES, tooLarge)).toString("utf8");
}

/** Line and column (1-based) of a character offset, as nlohmann counts them. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return `line ${line}, column ${offset - before.lastIndexOf("\n")}`;
}

/**
 * nlohmann's parse_error.101 for a body JSON.parse refused. The empty-input wording is exact; for other
 * input the position comes from V8 and the lexer detail is approximate (see docs/llama-stub.md).
 */
function parseErrorMessage(text: string, err: unknown): string {
  const prefix = "[json.exception.parse_error.101] parse error at";
  if (text.trim() === "") {
    return `${prefix} line 1, column 1: attempting to parse an empty input; check that your input string or stream contains the expected JSON`;
  }
  const at = /position (\d+)/.exec(String((err as Error).message));
  const offset = at ? Number(at[1]) : text.length;
  const detail = offset >= text.length ? "unexpected end of input" : "invalid literal";
  return `${prefix} ${position(text, offset + 1)}: syntax error while parsing value - ${detail}; last read: '${text.slice(Math.max(0, offset - 2), offset + 1)}'`;
}

function jsonTypeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value === "boolean" ? "boolean" : typeof value;
}

export type Json = Record<string, unknown>;

/** The request body as b4748 reads it: any Content-Type, nlohmann's messages for what is not an object. */
export async function readJsonObject(req: http.IncomingMessage): Promise<Json> {
  const text = await readBody(req);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw jsonError(parseErrorMessage(text, err));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw jsonError(`[json.exception.type_error.304] cannot use at() with ${jsonTypeName(value)}`);
  }
  return value as Json;
}
