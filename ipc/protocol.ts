/**
 * The wire contract: JSON-RPC 2.0, one JSON object per line (UTF-8, `\n`). Types only and a few
 * constants, so the CLI and third-party clients can import it without loading the daemon.
 * Documented for humans in docs/protocol.md.
 */
import type {
  HardwareId,
  MatrixCell,
  RestartBudgetView,
  RuntimeState,
  RuntimeStatusResult,
  SandboxKind,
} from "../daemon/types.js";

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

// ─── Methods ───────────────────────────────────────────────────────────────────────────────────

export interface HelloResult {
  protocol: number;
  product: typeof PRODUCT;
  version: string;
  node_id: string;
  pid: number;
  started_at: string;
  socket: string;
  methods: string[];
}

export interface RestoreParams {
  id: string;
  restart?: boolean;
  reset_budget?: boolean;
  wait?: boolean;
  timeout_ms?: number;
}

export interface RestoreResult {
  id: string;
  accepted: true;
  restarted: boolean;
  budget_reset: boolean;
  state: RuntimeState;
  restart_budget: RestartBudgetView;
  /** With `wait`: how it ended. */
  outcome?: "ready" | "failed" | "exhausted" | "timeout";
  detail?: string;
}

export interface StartStopParams {
  id: string;
  wait?: boolean;
  timeout_ms?: number;
}

export interface StartStopResult {
  id: string;
  state: RuntimeState;
  outcome?: "ready" | "stopped" | "failed" | "exhausted" | "timeout";
  detail?: string;
  /** runtime.start of a failed or exhausted runtime: it spent one restart; `restart_budget` is what is left. */
  restart_spent?: true;
  restart_budget?: RestartBudgetView;
}

export interface LogsParams {
  id: string;
  lines?: number;
  follow?: boolean;
}

export interface LogsResult {
  id: string;
  file: string;
  lines: string[];
  /** With `follow`: lines arrive as `logs.line` notifications carrying this id. */
  subscription?: string;
}

export interface SubscribeParams {
  topics: string[];
}

export interface SubscribeResult {
  subscription: string;
  topics: string[];
}

export interface ReloadResult {
  source: string;
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}

export interface MatrixResult {
  generated: string;
  axes: { models: string[]; hardware: HardwareId[]; sandboxes: SandboxKind[] };
  cells: MatrixCell[];
}

/** Method name → [params, result]. Methods not listed here are documented in docs/protocol.md. */
export interface Methods {
  "daemon.hello": [Record<string, never> | undefined, HelloResult];
  "runtime.status": [Record<string, never> | undefined, RuntimeStatusResult];
  "runtime.restore": [RestoreParams, RestoreResult];
  "runtime.start": [StartStopParams, StartStopResult];
  "runtime.stop": [StartStopParams, StartStopResult];
  "runtime.logs": [LogsParams, LogsResult];
  "events.subscribe": [SubscribeParams, SubscribeResult];
  "events.unsubscribe": [{ subscription: string }, { subscription: string; removed: boolean }];
  "config.reload": [Record<string, never> | undefined, ReloadResult];
  "matrix.get": [Record<string, never> | undefined, MatrixResult];
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
