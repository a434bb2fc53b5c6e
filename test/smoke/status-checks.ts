/**
 * What "every status field and accessibility string present and sensible" means for `rmx runtime status
 * --json` with one ready runtime: each check that fails adds one line naming the field and what was there.
 */
const STATUS_CODES = ["starting", "ready", "degraded", "error", "offline"];
const NODE_CODES = ["ok", "degraded", "error", "offline"];
const SEVERITIES: Record<string, string> = { info: "Info", warn: "Warn", error: "Error" };
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export interface ReadyExpectation {
  id: string;
  adapter: string;
  maxRestarts: number;
  windowSeconds: number;
  /** Restarts already used. */
  used: number;
  port?: number;
  model?: string;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? "undefined" : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export class Problems {
  readonly lines: string[] = [];

  add(field: string, expected: string, got: unknown): void {
    this.lines.push(`${field}: expected ${expected}, got ${show(got)}`);
  }

  text(field: string, value: unknown): value is string {
    if (typeof value === "string" && value.trim() !== "") return true;
    this.add(field, "a non-empty string", value);
    return false;
  }

  time(field: string, value: unknown): void {
    if (typeof value !== "string" || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
      this.add(field, "an RFC 3339 time", value);
    }
  }

  count(field: string, value: unknown, opts: { min?: number; exactly?: number } = {}): void {
    if (typeof value !== "number" || !Number.isInteger(value) || value < (opts.min ?? 0)) {
      this.add(field, `an integer >= ${opts.min ?? 0}`, value);
    } else if (opts.exactly !== undefined && value !== opts.exactly) {
      this.add(field, String(opts.exactly), value);
    }
  }

  equal(field: string, value: unknown, expected: unknown): void {
    if (value !== expected) this.add(field, show(expected), value);
  }
}

/** code/severity/severity_label/label/aria_hint/detail of one status object. */
export function checkStatusObject(
  p: Problems,
  field: string,
  status: unknown,
  codes: readonly string[],
  expected: { code?: string; ariaPrefix?: string } = {},
): void {
  if (!isObject(status)) {
    p.add(field, "a status object", status);
    return;
  }
  if (typeof status.code !== "string" || !codes.includes(status.code)) {
    p.add(`${field}.code`, `one of ${codes.join(", ")}`, status.code);
  } else if (expected.code !== undefined) {
    p.equal(`${field}.code`, status.code, expected.code);
  }
  const severity = status.severity;
  if (typeof severity !== "string" || !(severity in SEVERITIES)) {
    p.add(`${field}.severity`, "info, warn or error", severity);
  } else {
    p.equal(`${field}.severity_label`, status.severity_label, SEVERITIES[severity]);
    if (expected.code !== undefined && ["ready", "ok"].includes(expected.code)) {
      p.equal(`${field}.severity`, severity, "info");
    }
  }
  const labelOk = p.text(`${field}.label`, status.label);
  if (p.text(`${field}.aria_hint`, status.aria_hint) && labelOk) {
    const hint = status.aria_hint as string;
    // The hint is what a screen reader says: it has to carry the visible label, not something else.
    if (!hint.includes(status.label as string))
      p.add(`${field}.aria_hint`, `to contain the label "${status.label}"`, hint);
    if (expected.ariaPrefix !== undefined && !hint.startsWith(expected.ariaPrefix)) {
      p.add(`${field}.aria_hint`, `to start with "${expected.ariaPrefix}"`, hint);
    }
  }
  if (status.detail !== undefined) {
    const detail = status.detail;
    if (
      !Array.isArray(detail) ||
      detail.length === 0 ||
      detail.some((d) => typeof d !== "string" || d.trim() === "")
    ) {
      p.add(`${field}.detail`, "absent, or a list of non-empty strings", detail);
    }
  }
}

function checkNode(p: Problems, node: unknown): void {
  if (!isObject(node)) {
    p.add("node", "the node entry", node);
    return;
  }
  p.text("node.target", node.target);
  checkStatusObject(p, "node.status", node.status, NODE_CODES, { code: "ok" });
  p.time("node.generated", node.generated);
  if (!isObject(node.http)) p.add("node.http", "an object", node.http);
  else for (const key of ["routes", "hits", "errors"]) p.count(`node.http.${key}`, node.http[key]);
  const runtime = node.runtime;
  if (!isObject(runtime)) {
    p.add("node.runtime", "an object", runtime);
    return;
  }
  p.count("node.runtime.total", runtime.total, { exactly: 1 });
  p.time("node.runtime.updated", runtime.updated);
  p.equal("node.runtime.states.ready", isObject(runtime.states) ? runtime.states.ready : runtime.states, 1);
  if (runtime.by_accelerator !== undefined && !isObject(runtime.by_accelerator)) {
    p.add("node.runtime.by_accelerator", "an object", runtime.by_accelerator);
  }
}

function checkSummary(p: Problems, summary: unknown, e: ReadyExpectation): void {
  if (!isObject(summary)) {
    p.add("summary", "an object", summary);
    return;
  }
  p.count("summary.ready", summary.ready, { exactly: 1 });
  p.count("summary.total", summary.total, { exactly: 1 });
  p.equal("summary.min_restarts_left", summary.min_restarts_left, e.maxRestarts - e.used);
  p.equal("summary.attention_required", summary.attention_required, false);
  if (summary.attention !== undefined)
    p.add("summary.attention", "absent when nothing needs attention", summary.attention);
  if (e.used > 0) p.time("summary.next_reset", summary.next_reset);
}

function checkHealth(p: Problems, field: string, health: unknown): void {
  if (!isObject(health)) {
    p.add(field, "a latency summary", health);
    return;
  }
  p.count(`${field}.window_seconds`, health.window_seconds, { min: 1 });
  p.count(`${field}.requests`, health.requests, { min: 1 });
  p.count(`${field}.errors`, health.errors);
  if (typeof health.error_rate !== "number" || health.error_rate < 0 || health.error_rate > 1) {
    p.add(`${field}.error_rate`, "a number from 0 to 1", health.error_rate);
  }
  p.time(`${field}.last_ok_at`, health.last_ok_at);
}

function checkRuntime(p: Problems, rt: unknown, e: ReadyExpectation): void {
  const f = `runtimes[${e.id}]`;
  if (!isObject(rt)) {
    p.add(f, "a runtime view", rt);
    return;
  }
  p.equal(`${f}.adapter`, rt.adapter, e.adapter);
  p.equal(`${f}.state`, rt.state, "ready");
  p.equal(`${f}.desired`, rt.desired, "running");
  checkStatusObject(p, `${f}.status`, rt.status, STATUS_CODES, {
    code: "ready",
    ariaPrefix: `Runtime ${e.id} status `,
  });
  p.count(`${f}.pid`, rt.pid, { min: 1 });
  if (e.port !== undefined) p.equal(`${f}.port`, rt.port, e.port);
  else p.count(`${f}.port`, rt.port, { min: 1 });
  p.equal(`${f}.endpoint`, rt.endpoint, `http://127.0.0.1:${String(rt.port)}`);
  if (e.model !== undefined) p.equal(`${f}.model`, rt.model, e.model);
  p.equal(`${f}.hardware`, rt.hardware, "cpu");
  p.equal(`${f}.sandbox`, rt.sandbox, "none");
  p.time(`${f}.started_at`, rt.started_at);
  p.time(`${f}.ready_at`, rt.ready_at);
  p.count(`${f}.uptime_seconds`, rt.uptime_seconds);
  p.count(`${f}.restarts_total`, rt.restarts_total, { exactly: e.used });
  const budget = rt.restart_budget;
  if (!isObject(budget)) p.add(`${f}.restart_budget`, "an object", budget);
  else {
    p.equal(`${f}.restart_budget.max_restarts`, budget.max_restarts, e.maxRestarts);
    p.equal(`${f}.restart_budget.window_seconds`, budget.window_seconds, e.windowSeconds);
    p.equal(`${f}.restart_budget.used`, budget.used, e.used);
    p.equal(`${f}.restart_budget.remaining`, budget.remaining, e.maxRestarts - e.used);
    if (e.used > 0) p.time(`${f}.restart_budget.reset_at`, budget.reset_at);
    else p.equal(`${f}.restart_budget.reset_at`, budget.reset_at, undefined);
  }
  checkHealth(p, `${f}.health`, rt.health);
}

/** Problems with a status result in which the one runtime `e.id` is ready; empty when all is well. */
export function checkReadyStatus(result: unknown, e: ReadyExpectation): string[] {
  const p = new Problems();
  if (!isObject(result)) {
    p.add("status", "a JSON object", result);
    return p.lines;
  }
  p.time("generated", result.generated);
  checkNode(p, result.node);
  checkSummary(p, result.summary, e);
  const runtimes = result.runtimes;
  if (!Array.isArray(runtimes) || runtimes.length !== 1) {
    p.add("runtimes", "a list of exactly one runtime", runtimes);
    return p.lines;
  }
  const rt = runtimes.find((r) => isObject(r) && r.id === e.id);
  if (rt === undefined) p.add("runtimes[].id", show(e.id), (runtimes[0] as Json | undefined)?.id);
  else checkRuntime(p, rt, e);
  return p.lines;
}

/** After the budget ran out: still serving, nothing left, and the summary says a person should look. */
export function checkExhaustedStatus(result: unknown, id: string, maxRestarts: number): string[] {
  const p = new Problems();
  if (!isObject(result) || !Array.isArray(result.runtimes) || !isObject(result.summary)) {
    p.add("status", "a status result", result);
    return p.lines;
  }
  const rt = result.runtimes.find((r) => isObject(r) && r.id === id) as Json | undefined;
  if (rt === undefined) {
    p.add(`runtimes[${id}]`, "present", undefined);
    return p.lines;
  }
  p.equal(`runtimes[${id}].state`, rt.state, "ready");
  const budget = isObject(rt.restart_budget) ? rt.restart_budget : {};
  p.equal(`runtimes[${id}].restart_budget.used`, budget.used, maxRestarts);
  p.equal(`runtimes[${id}].restart_budget.remaining`, budget.remaining, 0);
  p.equal("summary.min_restarts_left", result.summary.min_restarts_left, 0);
  p.equal("summary.attention_required", result.summary.attention_required, true);
  const attention = result.summary.attention;
  if (!Array.isArray(attention) || !attention.some((line) => typeof line === "string" && line.includes(id))) {
    p.add("summary.attention", `a line about ${id}`, attention);
  }
  return p.lines;
}
