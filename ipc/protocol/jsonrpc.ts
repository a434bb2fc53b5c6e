/**
 * The JSON-RPC 2.0 envelope of the wire contract: one JSON object per line (UTF-8, `\n`), the protocol
 * version, the JSON-RPC error numbers and the notification names. Documented in docs/protocol.md.
 */

/** Bumped on any incompatible change to a method, its params, its result or a notification. */
export const PROTOCOL_VERSION = 1;
export const PRODUCT = "runtime-matrix";
/** Lines longer than this are answered with an error and the connection is closed. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export const RpcErrors = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id?: string | number | null;
  method: string;
  params?: unknown;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  /** Application errors carry `{ code: "<STABLE_CODE>", ... }`. */
  data?: { code?: string; [key: string]: unknown };
}

export type JsonRpcResponse =
  | { jsonrpc: "2.0"; id: string | number | null; result: unknown }
  | { jsonrpc: "2.0"; id: string | number | null; error: JsonRpcErrorObject };

export interface JsonRpcNotification {
  jsonrpc: "2.0";
  method: string;
  params: unknown;
}

// ─── Notifications (server → client) ───────────────────────────────────────────────────────────

export interface EventNotificationParams {
  subscription: string;
  topic: string;
  seq: number;
  time: string;
  payload: unknown;
}

export interface LaggedNotificationParams {
  subscription: string;
  dropped: number;
}

export interface LogLineNotificationParams {
  subscription: string;
  id: string;
  line: string;
}

export const Notifications = {
  EVENT: "event",
  LAGGED: "events.lagged",
  LOG_LINE: "logs.line",
  CHAT_DELTA: "chat.delta",
} as const;
