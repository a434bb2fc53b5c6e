/**
 * What the gateway answers itself: JSON bodies and errors in OpenAI's shape
 * `{"error":{"message","type","param","code"}}`, so every OpenAI client shows the message. Each error also
 * has a class, counted in the gateway's telemetry.
 */
import type http from "node:http";

import type { ErrorClass } from "../../ipc/protocol/gateway.js";

export type { ErrorClass };

export interface GatewayError {
  status: number;
  type: string;
  code: string;
  message: string;
  param?: string;
  /** Seconds, for 503. */
  retryAfter?: number;
  klass: ErrorClass;
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function sendError(
  res: http.ServerResponse,
  e: GatewayError,
  headers: Record<string, string> = {},
): void {
  const extra: Record<string, string> = { ...headers };
  if (e.retryAfter !== undefined) extra["retry-after"] = String(e.retryAfter);
  sendJson(
    res,
    e.status,
    { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } },
    extra,
  );
}

export const badRequest = (message: string, code = "invalid_request", param?: string): GatewayError => ({
  status: 400,
  type: "invalid_request_error",
  code,
  message,
  klass: "client",
  ...(param === undefined ? {} : { param }),
});

export const unauthorized = (message: string): GatewayError => ({
  status: 401,
  type: "authentication_error",
  code: "invalid_api_key",
  message,
  klass: "auth",
});

export const forbidden = (message: string, code: string): GatewayError => ({
  status: 403,
  type: "permission_error",
  code,
  message,
  klass: "auth",
});

export const notFound = (message: string, code: string, param?: string): GatewayError => ({
  status: 404,
  type: "invalid_request_error",
  code,
  message,
  klass: "not_found",
  ...(param === undefined ? {} : { param }),
});

export const unavailable = (message: string, code: string, retryAfter: number): GatewayError => ({
  status: 503,
  type: "server_error",
  code,
  message,
  retryAfter,
  klass: "unavailable",
});

export const upstreamFailed = (message: string): GatewayError => ({
  status: 502,
  type: "server_error",
  code: "upstream_error",
  message,
  klass: "upstream",
});
