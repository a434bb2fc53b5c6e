/**
 * Wire shapes of the policy methods (pins, resolve, leases, quick actions, chat, policy switches). Types
 * only, so the CLI can import them without loading the daemon. Documented in docs/protocol.md.
 */

import type { RestartBudgetView, RuntimeState, SandboxKind } from "../types.js";
import type { ChatUsage } from "./backend-chat.js";
import type { FallbackScopeView } from "./fallback.js";
import type { Lease } from "./lease.js";
import type { PinRecord } from "./pins.js";
import type { CellRef, PassedOver, ResolveMode } from "./resolve.js";
import type { ScheduleView } from "./schedule.js";

export type {
  CellRef,
  ChatUsage,
  FallbackScopeView,
  Lease,
  PassedOver,
  PinRecord,
  ResolveMode,
  ScheduleView,
};

export interface ResolveParams {
  agent?: string;
  project?: string;
  model?: string;
  mode?: ResolveMode;
  slo_ms?: number;
  needs?: string[];
}

export interface ResolveResult {
  mode: ResolveMode;
  /** What serves the request: the resolution's choice, or the cell users stay on until their pin has recovered. */
  chosen: CellRef;
  /** verified: the second cell, with another model. */
  also?: CellRef;
  passed_over: PassedOver[];
  /** The pin that applied: its scope and patterns. */
  pin?: { scope: string; patterns: string[] };
  /** The first cell of the first allowed pin: where users belong. */
  preferred?: CellRef;
  /** `chosen` is not the preferred cell. */
  fallback: boolean;
  /** Every eligible cell, best first. */
  ranked: CellRef[];
  note?: string;
}

export interface PolicyView {
  allow_fallback: boolean;
  allow_remote: boolean;
  allow_cpu: boolean;
  required_sandbox?: SandboxKind;
  restore_after_ms: number;
  /** Changed with `policy.set` since the configuration was (re)loaded; not written to the config file. */
  overridden: boolean;
  /** Pinned scopes the fallback tracker follows. */
  fallback: FallbackScopeView[];
  schedules: ScheduleView[];
}

export interface PolicySetParams {
  allow_fallback?: boolean;
  allow_remote?: boolean;
  allow_cpu?: boolean;
  /** null clears the requirement. */
  required_sandbox?: SandboxKind | null;
  restore_after_ms?: number;
}

export interface PinSetParams {
  agent?: string;
  project?: string;
  patterns: string[];
}

export interface PinScopeParams {
  agent?: string;
  project?: string;
}

export interface LeaseAcquireParams {
  target: string;
  capability: string;
  ttl_ms: number;
  holder: string;
  /** Queue this long for a free slot (default: fail at once). */
  wait_ms?: number;
  /** How long an idle runtime the lease wakes may take to become ready (default 120 s). */
  timeout_ms?: number;
}

export interface LeaseResult extends Lease {
  /** Runtimes the target names and their state after the grant (an idle one has been woken). */
  runtimes: { id: string; state: RuntimeState; endpoint?: string }[];
}

export interface QuickActionParams {
  id: string;
  wait?: boolean;
  timeout_ms?: number;
}

export interface ReloadParams extends QuickActionParams {
  model?: string;
}

export interface SwitchParams extends QuickActionParams {
  sandbox?: SandboxKind;
  hardware?: string;
}

export interface QuickActionResult {
  id: string;
  action: "reload" | "switch";
  model?: string;
  previous_model?: string;
  hardware: string;
  previous_hardware: string;
  sandbox: SandboxKind;
  previous_sandbox: SandboxKind;
  /** The running process is being replaced (false when the runtime is stopped or idle: the change applies at its next start). */
  restarted: boolean;
  state: RuntimeState;
  restart_budget: RestartBudgetView;
  /** The model's memory estimate and fit on the runtime's hardware, when it has a GGUF model. */
  fit?: { fits: boolean | "unknown"; reason: string; need_bytes?: number; available_bytes?: number };
  note: string;
  outcome?: "ready" | "failed" | "exhausted" | "stopped" | "timeout";
  detail?: string;
  /**
   * How a serving runtime is changed: `beside` (the new process starts next to the old one and takes over
   * when ready) or `replace` (the old one stops first; rolled back on failure). With `wait`, the figures.
   */
  takeover?: {
    path: "beside" | "replace";
    reason: string;
    took_over_ms?: number;
    old_pid?: number;
    new_pid?: number;
  };
}

export interface ChatMessage {
  role: string;
  content: unknown;
  [key: string]: unknown;
}

export interface ChatParams {
  messages: ChatMessage[];
  model?: string;
  agent?: string;
  project?: string;
  mode?: ResolveMode;
  max_tokens?: number;
  stream?: boolean;
  slo_ms?: number;
  timeout_ms?: number;
  /** Id carried by this request's `chat.delta` notifications; generated when absent. */
  request?: string;
}

export interface ChatAnswer {
  content: string;
  cell: string;
  runtime: string;
  model: string;
  finish_reason?: string;
  usage?: ChatUsage;
  timings?: Record<string, unknown>;
  /** Backend round trip of the answering request. */
  latency_ms: number;
}

export interface ChatResult extends ChatAnswer {
  request: string;
  fallback: { used: boolean; from?: string; reason?: string };
  /** verified: the second model's answer (or why it has none). */
  verified?: ChatAnswer | { cell: string; runtime: string; error: string };
  note?: string;
}

export interface ChatDeltaParams {
  request: string;
  content: string;
}
