/**
 * Wire shapes of the policy methods (pins, resolve, leases, quick actions, chat, policy switches). Types
 * only, so the CLI can import them without loading the daemon. Documented in docs/protocol.md.
 */

import type { ChatUsage } from "../../adapters/shared/openai-client.js";
import type { SandboxKind, ScheduleSpec } from "../../base/spec.js";
import type { RestartBudgetView, RuntimeState } from "./runtime.js";

export type {
  ChatMessage,
  ChatParams,
  LeaseAcquireParams,
  LeaseListParams,
  LeaseReleaseParams,
  LeaseRenewParams,
  PinScopeParams,
  PinSetParams,
  PolicySetParams,
  ReloadParams,
  ResolveParams,
  SwitchParams,
} from "./policy.schema.js";
export type { ChatUsage };

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

export interface LeaseResult extends Lease {
  /** Runtimes the target names and their state after the grant (an idle one has been woken). */
  runtimes: { id: string; state: RuntimeState; endpoint?: string }[];
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

export type ResolveMode = "quick" | "balanced" | "deep" | "verified";

export type PassReason =
  | "unhealthy"
  | "exhausted"
  | "no_lease_capacity"
  | "sandbox_unavailable"
  | "does_not_fit"
  | "over_slo"
  | "remote_not_allowed"
  | "cpu_not_allowed"
  | "sandbox_required"
  | "model_mismatch"
  | "not_pinned"
  | "missing_capability"
  | "fallback_not_allowed";

export interface CellRef {
  cell: string;
  runtime?: string;
}

export interface PassedOver extends CellRef {
  why: PassReason;
  detail: string;
}

export interface Lease {
  id: string;
  /** Cell key or runtime id. */
  target: string;
  capability: string;
  holder: string;
  acquired_at: string;
  expires_at: string;
  ttl_ms: number;
}

export interface PinRecord {
  /** `"*"`, `"agent:<a>"`, `"project:<p>"` or `"agent:<a>/project:<p>"`; see `pinScopeKey`. */
  scope: string;
  agent?: string;
  project?: string;
  /** Normalised patterns (`llama-8b` is stored with both other parts as `*`), in preference order. */
  patterns: string[];
  set_at: string;
}

export interface FallbackScopeView {
  scope: string;
  preferred: string;
  on_fallback: boolean;
  serving: string | null;
  /** When the preferred cell's current healthy streak began. */
  preferred_healthy_since?: string;
  since: string;
}

export interface ScheduleView {
  id: string;
  cron: string;
  action: ScheduleSpec["action"];
  runtime: string;
  timezone?: string;
  /** Next firing, RFC 3339; absent when the expression never fires again. */
  next?: string;
}

export interface FallbackPayload {
  scope: string;
  from: string | null;
  to: string | null;
  reason: string;
  at: string;
}

export interface RestoredPayload {
  scope: string;
  from: string | null;
  to: string;
  healthy_for_ms: number;
  at: string;
}
