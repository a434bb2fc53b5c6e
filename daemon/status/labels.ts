import type {
  NodeStatusCode,
  RuntimeState,
  Severity,
  StatusCode,
  StatusObject,
} from "../../ipc/protocol/runtime.js";

export interface StateVocabulary {
  code: StatusCode;
  severity: Severity;
  label: string;
}

const VOCABULARY: Record<RuntimeState, StateVocabulary> = {
  stopped: { code: "offline", severity: "info", label: "Stopped" },
  idle: { code: "offline", severity: "info", label: "Idle (unloaded, starts on demand)" },
  starting: { code: "starting", severity: "info", label: "Starting" },
  ready: { code: "ready", severity: "info", label: "Ready" },
  degraded: { code: "degraded", severity: "warn", label: "Degraded" },
  backoff: { code: "degraded", severity: "warn", label: "Restarting (backoff)" },
  exhausted: { code: "error", severity: "error", label: "Restart budget exhausted" },
  stopping: { code: "offline", severity: "info", label: "Stopping" },
  failed: { code: "error", severity: "error", label: "Failed" },
};

/** A supervisor state in the seed's status vocabulary (code, severity, human label). */
export function stateVocabulary(state: RuntimeState): StateVocabulary {
  return VOCABULARY[state];
}

const SEVERITY_LABEL: Record<Severity, StatusObject["severity_label"]> = {
  info: "Info",
  warn: "Warn",
  error: "Error",
};

export function severityLabel(severity: Severity): StatusObject["severity_label"] {
  return SEVERITY_LABEL[severity];
}

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warn: 1, error: 2 };

export function maxSeverity(a: Severity, b: Severity): Severity {
  return SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a;
}

/**
 * Node codes from least to most serious. Offline (every wanted runtime down) ranks below error
 * (something failed and needs a person), so one failed runtime among stopped ones reads "Error".
 */
const NODE_RANK: Record<NodeStatusCode, number> = { ok: 0, degraded: 1, offline: 2, error: 3 };

export function nodeCodeRank(code: NodeStatusCode): number {
  return NODE_RANK[code];
}

/** The more serious of two node codes: findings only ever raise the status. */
export function maxNodeCode(a: NodeStatusCode, b: NodeStatusCode): NodeStatusCode {
  return NODE_RANK[b] > NODE_RANK[a] ? b : a;
}

const NODE_SEVERITY: Record<NodeStatusCode, Severity> = {
  ok: "info",
  degraded: "warn",
  offline: "error",
  error: "error",
};

export function nodeSeverity(code: NodeStatusCode): Severity {
  return NODE_SEVERITY[code];
}

const NODE_LABEL: Record<NodeStatusCode, string> = {
  ok: "Ready",
  degraded: "Degraded",
  offline: "Offline",
  error: "Error",
};

export function nodeCodeLabel(code: NodeStatusCode): string {
  return NODE_LABEL[code];
}
