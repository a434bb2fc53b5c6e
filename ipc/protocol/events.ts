/**
 * Event topics and the payload each carries (the `payload` of an `event` notification), and the result of
 * `events.subscribe`. The daemon's bus is typed with `EventPayloads`, so a publish that drifts from this
 * contract does not compile.
 */
import type { ScheduleSpec } from "../../base/spec.js";
import type { HardwareInventory, HardwareSample } from "./hardware.js";
import type { CellLoad, MatrixChange, Throughput } from "./matrix.js";
import type { ModelCatalogChange } from "./models.js";
import type { FallbackPayload, Lease, RestoredPayload } from "./policy.js";
import type {
  DaemonProblem,
  LatencySummary,
  NodeEntry,
  ReloadResult,
  RestartBudgetView,
  RuntimeState,
  StatusObject,
  StatusSummary,
} from "./runtime.js";

export interface SubscribeResult {
  subscription: string;
  topics: string[];
}

/** Every topic the daemon publishes. Subscribers select with glob patterns (`runtime.*`, `*`). */
export type Topic =
  | "runtime.state.changed"
  | "runtime.exited"
  | "runtime.restart"
  | "runtime.budget.denied"
  | "runtime.probe.failed"
  | "runtime.reload.failed"
  | "runtime.swap"
  | "runtime.health"
  | "hardware.sample"
  | "hardware.inventory"
  | "models.changed"
  | "matrix.changed"
  | "policy.fallback"
  | "policy.restored"
  | "lease.acquired"
  | "lease.renewed"
  | "lease.released"
  | "lease.expired"
  | "schedule.fired"
  | "config.reloaded"
  | "daemon.stopping"
  | "daemon.problems";

/** A reload or switch that could not be proven: what was tried, the backend's own lines, and whether it rolled back. */
export interface ReloadFailedPayload {
  id: string;
  action: "reload" | "switch";
  path: "beside" | "replace";
  model?: string;
  previous_model?: string;
  hardware: string;
  sandbox: string;
  reason: string;
  backend_lines: string[];
  rolled_back: boolean;
  state: RuntimeState;
  pid?: number;
  restart_budget: RestartBudgetView;
  log: string;
}

/** A swap-group decision: runtimes on one GPU that cannot all fit (stop the least recently used idle ones, or wait). */
export interface SwapEvent {
  action: "stop" | "wait";
  /** The runtime that is starting. */
  id: string;
  gpu: string;
  stopped?: string[];
  busy?: string[];
  reason: string;
}

/** A probe's failure as `runtime.probe.failed` carries it (an adapter's ProbeOutcome that is not ok). */
export interface ProbeFailure {
  kind: string;
  ms: number;
  status?: number;
  message?: string;
}

export type RuntimeHealthPayload =
  | { scope: "node"; entry: NodeEntry; summary: StatusSummary }
  | {
      scope: "runtime";
      id: string;
      state: RuntimeState;
      status: StatusObject;
      health: LatencySummary;
      restart_budget: RestartBudgetView;
    }
  | { scope: "cell"; key: string; status: StatusObject; throughput: Throughput; load: CellLoad };

export interface ScheduleFiredPayload {
  id: string;
  action: ScheduleSpec["action"];
  runtime: string;
  at: string;
  /** Why the action did not happen (unknown runtime, budget exhausted, an error). */
  error?: string;
  /** The runtime's state after the action. */
  state?: RuntimeState;
}

/** Topic → payload. */
export interface EventPayloads {
  "runtime.state.changed": {
    id: string;
    from: RuntimeState;
    to: RuntimeState;
    reason?: string;
    status: StatusObject;
    restart_budget: RestartBudgetView;
    pid?: number;
  };
  "runtime.exited": {
    id: string;
    pid: number;
    code: number | null;
    signal: string | null;
    at: string;
    /** rmxd was stopping it. */
    expected: boolean;
  };
  "runtime.restart": { id: string; automatic: boolean; restart_budget: RestartBudgetView };
  "runtime.budget.denied": { id: string; reason: string; restart_budget: RestartBudgetView };
  "runtime.probe.failed": {
    id: string;
    probe: string;
    count: number;
    threshold: number;
    outcome?: ProbeFailure;
  };
  "runtime.reload.failed": ReloadFailedPayload;
  "runtime.swap": SwapEvent;
  "runtime.health": RuntimeHealthPayload;
  "hardware.sample": HardwareSample;
  "hardware.inventory": HardwareInventory;
  "models.changed": ModelCatalogChange;
  "matrix.changed": MatrixChange;
  "policy.fallback": FallbackPayload;
  "policy.restored": RestoredPayload;
  "lease.acquired": Lease;
  "lease.renewed": Lease;
  "lease.released": Lease;
  "lease.expired": Lease;
  "schedule.fired": ScheduleFiredPayload;
  "config.reloaded": ReloadResult;
  "daemon.stopping": { reason: string };
  "daemon.problems": { problems: DaemonProblem[] };
}
