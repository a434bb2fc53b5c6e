import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rfc3339 } from "../../base/clock.js";
import {
  composeNodeEntry,
  type Finding,
  finalizeReasons,
  MAX_REASON_CHARS,
  MAX_REASONS,
  type NodeEntryInput,
  nodeFindings,
  nodeStatus,
  nodeTarget,
  restartPressureLines,
  runtimeStatus,
} from "../../daemon/status/compose.js";
import { maxNodeCode, nodeCodeRank, stateVocabulary } from "../../daemon/status/labels.js";
import { summarize } from "../../daemon/status/summary.js";
import { statusHeader } from "../../ipc/cli/status-text.js";
import type { NodeEntry, NodeStatusCode, RuntimeState, RuntimeView } from "../../ipc/protocol/runtime.js";
import { budget, deepFreeze, hhmmss, runtime, T0 } from "./fixtures.js";

const RESET = Date.UTC(2025, 8, 29, 12, 9, 41);
const RETRY = Date.UTC(2025, 8, 29, 12, 9, 42);
const STATES: RuntimeState[] = [
  "stopped",
  "idle",
  "starting",
  "ready",
  "degraded",
  "backoff",
  "exhausted",
  "stopping",
  "failed",
];

function entry(runtimes: RuntimeView[], extra: Partial<NodeEntryInput> = {}): NodeEntry {
  return composeNodeEntry({ target: "node-a", now: T0, runtimes, formatTime: hhmmss, ...extra });
}

describe("stateVocabulary", () => {
  it("maps every supervisor state to the seed's vocabulary", () => {
    expect(Object.fromEntries(STATES.map((s) => [s, stateVocabulary(s)]))).toEqual({
      stopped: { code: "offline", severity: "info", label: "Stopped" },
      idle: { code: "offline", severity: "info", label: "Idle (unloaded, starts on demand)" },
      starting: { code: "starting", severity: "info", label: "Starting" },
      ready: { code: "ready", severity: "info", label: "Ready" },
      degraded: { code: "degraded", severity: "warn", label: "Degraded" },
      backoff: { code: "degraded", severity: "warn", label: "Restarting (backoff)" },
      exhausted: { code: "error", severity: "error", label: "Restart budget exhausted" },
      stopping: { code: "offline", severity: "info", label: "Stopping" },
      failed: { code: "error", severity: "error", label: "Failed" },
    });
  });

  it("orders node codes ok < degraded < offline < error", () => {
    expect(
      ["error", "ok", "offline", "degraded"].sort(
        (a, b) => nodeCodeRank(a as NodeStatusCode) - nodeCodeRank(b as NodeStatusCode),
      ),
    ).toEqual(["ok", "degraded", "offline", "error"]);
    expect(maxNodeCode("error", "degraded")).toBe("error");
    expect(maxNodeCode("ok", "offline")).toBe("offline");
  });
});

describe("finalizeReasons", () => {
  it("trims, drops empty, cuts to 240 characters, de-duplicates and keeps at most 8", () => {
    const long = "x".repeat(300);
    const reasons = finalizeReasons([
      "  a  ",
      "",
      "   ",
      "a",
      "b",
      long,
      `${long}y`,
      "c",
      "d",
      "e",
      "f",
      "g",
      "h",
    ]);
    expect(reasons).toEqual(["a", "b", `${"x".repeat(239)}…`, "c", "d", "e", "f", "g"]);
  });

  it("does not split a surrogate pair when cutting", () => {
    // The pair would straddle the cut: drop it whole.
    expect(finalizeReasons([`${"a".repeat(238)}😀😀`])).toEqual([`${"a".repeat(238)}…`]);
    // The pair ends right at the cut: keep it.
    expect(finalizeReasons([`${"a".repeat(237)}😀😀😀`])).toEqual([`${"a".repeat(237)}😀…`]);
  });

  it("is bounded, unique, trimmed and idempotent for any input", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 300, unit: fc.constantFrom("a", "b", " ", "\t", "\n", "é", "😀") }), {
          maxLength: 12,
        }),
        (raw) => {
          const reasons = finalizeReasons(raw);
          expect(reasons.length).toBeLessThanOrEqual(MAX_REASONS);
          expect(new Set(reasons).size).toBe(reasons.length);
          for (const reason of reasons) {
            expect(reason.length).toBeGreaterThan(0);
            expect(reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
            expect(reason).toBe(reason.trim());
          }
          expect(finalizeReasons(reasons)).toEqual(reasons);
        },
      ),
    );
  });
});

describe("restartPressureLines", () => {
  it("writes exhausted and low lines exactly as the reference sheet", () => {
    const lines = restartPressureLines(
      [
        { id: "llama-8b", budget: budget(3, 3, RESET) },
        { id: "qwen", budget: budget(3, 2, RESET) },
        { id: "phi", budget: budget(3, 1, RESET) },
        { id: "solo", budget: budget(1, 0) },
        { id: "solo-used", budget: budget(1, 1, RESET) },
        { id: "off", budget: budget(0, 0) },
      ],
      hhmmss,
    );
    expect(lines).toEqual([
      "llama-8b restart budget exhausted (3/3 used; resets at 12:09:41)",
      "qwen restart budget low (1 of 3 remaining; window 600s; resets at 12:09:41)",
      "solo-used restart budget exhausted (1/1 used; resets at 12:09:41)",
    ]);
  });
});

describe("runtimeStatus", () => {
  const base = { id: "llama-8b", budget: budget(3, 0), formatTime: hhmmss };

  it("labels ready and starting runtimes", () => {
    expect(runtimeStatus({ ...base, state: "ready" })).toEqual({
      code: "ready",
      severity: "info",
      severity_label: "Info",
      label: "Ready",
      aria_hint: "Runtime llama-8b status Ready.",
    });
    expect(runtimeStatus({ ...base, state: "starting", reason: "loading model" })).toEqual({
      code: "starting",
      severity: "info",
      severity_label: "Info",
      label: "Starting - loading model",
      detail: ["loading model"],
      aria_hint: "Runtime llama-8b status Starting - loading model. loading model",
    });
  });

  it("shows the reason and the last 5 clean log lines for a failed runtime", () => {
    const logs = ["one", "two", "\x1b[31merror:\x1b[0m\tbad magic", "four", "", "five", "six", "seven"];
    const status = runtimeStatus({
      ...base,
      state: "failed",
      reason: "binary not found: llama-server",
      lastLogLines: logs,
    });
    expect(status.code).toBe("error");
    expect(status.severity_label).toBe("Error");
    expect(status.label).toBe("Failed - binary not found: llama-server");
    expect(status.detail).toEqual([
      "binary not found: llama-server",
      "log: error: bad magic",
      "log: four",
      "log: five",
      "log: six",
      "log: seven",
    ]);
    expect(status.aria_hint).toBe(
      "Runtime llama-8b status Failed - binary not found: llama-server. binary not found: llama-server; " +
        "log: error: bad magic; log: four; log: five; log: six; log: seven",
    );
  });

  it("shows restart pressure and the automatic retry for an exhausted runtime", () => {
    const status = runtimeStatus({
      ...base,
      state: "exhausted",
      reason: "exit code 1 during start-up",
      budget: budget(3, 3, RESET),
      nextRetryAt: rfc3339(RETRY),
    });
    expect(status).toEqual({
      code: "error",
      severity: "error",
      severity_label: "Error",
      label: "Restart budget exhausted",
      detail: [
        "llama-8b restart budget exhausted (3/3 used; resets at 12:09:41)",
        "Automatic retry at 12:09:42",
        "Last failure: exit code 1 during start-up",
      ],
      aria_hint:
        "Runtime llama-8b status Restart budget exhausted. llama-8b restart budget exhausted (3/3 used; " +
        "resets at 12:09:41); Automatic retry at 12:09:42; Last failure: exit code 1 during start-up",
    });
  });

  it("shows the next retry of a runtime in backoff", () => {
    const status = runtimeStatus({
      ...base,
      state: "backoff",
      reason: "exit code 1",
      nextRetryAt: rfc3339(RETRY),
    });
    expect(status.label).toBe("Restarting (backoff) - exit code 1");
    expect(status.severity).toBe("warn");
    expect(status.detail).toEqual(["exit code 1", "Next retry at 12:09:42"]);
  });

  it("keeps detail within limits and the label inside aria_hint for any input", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STATES),
        fc.option(fc.string({ maxLength: 400 }), { nil: undefined }),
        fc.array(fc.string({ maxLength: 400 }), { maxLength: 12 }),
        fc.option(fc.constant(rfc3339(RETRY)), { nil: undefined }),
        (state, reason, lastLogLines, nextRetryAt) => {
          const status = runtimeStatus({ ...base, state, reason, lastLogLines, nextRetryAt });
          expect(status.aria_hint).toContain(status.label);
          expect(status.aria_hint.startsWith(`Runtime llama-8b status ${status.label}.`)).toBe(true);
          expect(status.code).toBe(stateVocabulary(state).code);
          const detail = status.detail ?? [];
          expect(detail.length).toBeLessThanOrEqual(MAX_REASONS);
          for (const line of detail) expect(line.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
        },
      ),
    );
  });
});

describe("composeNodeEntry", () => {
  it("is ok and nominal when every runtime is ready", () => {
    const node = entry([runtime("a", "ready"), runtime("b", "ready", { hardware: "gpu:0" })], {
      http: { routes: 1, hits: 10, errors: 0, avg_ewma_ms: 12, error_rate: 0 },
    });
    expect(node).toEqual({
      target: "node-a",
      generated: rfc3339(T0),
      status: {
        code: "ok",
        severity: "info",
        severity_label: "Info",
        label: "Ready - Runtime telemetry nominal",
        detail: ["Running within expected ranges"],
        aria_hint: "Runtime status Ready - Runtime telemetry nominal. Running within expected ranges",
      },
      http: { routes: 1, hits: 10, errors: 0, avg_ewma_ms: 12, error_rate: 0 },
      runtime: {
        total: 2,
        updated: rfc3339(T0),
        states: { ready: 2 },
        severity: { info: 2 },
        by_accelerator: { CPU: { total: 1, states: { ready: 1 } }, GPU: { total: 1, states: { ready: 1 } } },
      },
    });
  });

  it("is ok with no runtimes and no traffic", () => {
    const node = entry([]);
    expect(node.status.code).toBe("ok");
    expect(node.http).toEqual({ routes: 0, hits: 0, errors: 0 });
    expect(node.runtime).toEqual({ total: 0, updated: rfc3339(T0) });
  });

  it("raises to the most serious finding and names it first", () => {
    const node = entry([
      runtime("a", "degraded", { reason: "inference probe failing" }),
      runtime("b", "failed", { reason: "binary not found: llama-server" }),
      runtime("c", "ready", { restart_budget: budget(3, 2, RESET) }),
    ]);
    expect(node.status.code).toBe("error");
    expect(node.status.severity).toBe("error");
    expect(node.status.label).toBe("Error - b failed: binary not found: llama-server");
    expect(node.status.detail).toEqual([
      "b failed: binary not found: llama-server",
      "a degraded: inference probe failing",
      "c restart budget low (1 of 3 remaining; window 600s; resets at 12:09:41)",
    ]);
    expect(node.status.aria_hint).toBe(
      "Runtime status Error - b failed: binary not found: llama-server. b failed: binary not found: " +
        "llama-server; a degraded: inference probe failing; c restart budget low (1 of 3 remaining; window " +
        "600s; resets at 12:09:41)",
    );
    expect(node.runtime.alerts).toEqual([
      "a: Degraded - inference probe failing",
      "b: Failed - binary not found: llama-server",
    ]);
    expect(node.runtime.restart_pressure).toEqual([
      "c restart budget low (1 of 3 remaining; window 600s; resets at 12:09:41)",
    ]);
    expect(node.runtime.severity).toEqual({ warn: 1, error: 1, info: 1 });
  });

  it("reports an exhausted budget once, as an error", () => {
    const node = entry([
      runtime("llama-8b", "exhausted", {
        restart_budget: budget(3, 3, RESET),
        next_retry_at: rfc3339(RESET),
      }),
    ]);
    expect(node.status.label).toBe(
      "Error - llama-8b restart budget exhausted (3/3 used; resets at 12:09:41)",
    );
    expect(node.status.detail).toHaveLength(1);
    expect(node.runtime.restart_pressure).toEqual([
      "llama-8b restart budget exhausted (3/3 used; resets at 12:09:41)",
    ]);
  });

  it("is offline when every runtime that should run is stopped; degraded when only some are", () => {
    const all = entry([
      runtime("a", "stopped"),
      runtime("b", "stopped"),
      runtime("c", "stopped", { desired: "stopped" }),
    ]);
    expect(all.status.code).toBe("offline");
    expect(all.status.label).toBe("Offline - All runtimes offline (2 desired running)");
    expect(all.runtime.alerts).toEqual(["a: Stopped", "b: Stopped"]);
    const some = entry([runtime("a", "stopped"), runtime("b", "ready")]);
    expect(some.status.code).toBe("degraded");
    expect(some.status.label).toBe("Degraded - a stopped while desired running");
  });

  it("does not flag idle, stopping, starting or stopped-by-request runtimes", () => {
    const node = entry([
      runtime("a", "idle"),
      runtime("b", "stopping"),
      runtime("c", "starting", { reason: "loading model" }),
      runtime("d", "stopped", { desired: "stopped" }),
    ]);
    expect(node.status.code).toBe("ok");
    expect(node.runtime.alerts).toEqual(["b: Stopping", "c: Starting - loading model"]);
  });

  it("degrades on HTTP error rate over 5%, average latency over 1.5 s and bus lag", () => {
    const ready = [runtime("a", "ready")];
    expect(entry(ready, { http: { routes: 1, hits: 100, errors: 5, error_rate: 0.05 } }).status.code).toBe(
      "ok",
    );
    const errors = entry(ready, { http: { routes: 1, hits: 100, errors: 6, error_rate: 0.06 } });
    expect(errors.status.label).toBe("Degraded - HTTP error rate 6% (6 of 100 requests in the window)");
    expect(entry(ready, { http: { routes: 1, hits: 3, errors: 0, avg_ewma_ms: 1500 } }).status.code).toBe(
      "ok",
    );
    const slow = entry(ready, { http: { routes: 1, hits: 3, errors: 0, avg_ewma_ms: 1501.4 } });
    expect(slow.status.label).toBe("Degraded - HTTP latency 1501 ms on average (over 1500 ms)");
    expect(entry(ready, { busLagMs: 1000 }).status.code).toBe("ok");
    expect(entry(ready, { busLagMs: 2500 }).status.label).toBe("Degraded - Event bus lagging 2500 ms");
  });

  it("groups by the accelerator label it is given", () => {
    const node = entry(
      [
        runtime("a", "ready", { hardware: "gpu:0" }),
        runtime("b", "failed", { hardware: "gpu:0" }),
        runtime("c", "ready"),
      ],
      { hardwareOf: (rt) => (rt.hardware === "cpu" ? "CPU" : "GPU (CUDA)") },
    );
    expect(node.runtime.by_accelerator).toEqual({
      "GPU (CUDA)": { total: 2, states: { ready: 1, failed: 1 } },
      CPU: { total: 1, states: { ready: 1 } },
    });
  });

  it("depends only on current inputs: a bad past entry leaves no trace", () => {
    const bad = entry([runtime("a", "failed", { reason: "boom" })], {
      http: { routes: 1, hits: 1, errors: 1, error_rate: 1 },
      busLagMs: 9000,
    });
    expect(bad.status.code).toBe("error");
    const good = entry([runtime("a", "ready")]);
    expect(good).toEqual(
      composeNodeEntry({ target: "node-a", now: T0, runtimes: [runtime("a", "ready")], formatTime: hhmmss }),
    );
    expect(good.status.code).toBe("ok");
  });
});

describe("nodeTarget", () => {
  it("prefers RMX_NODE_ID, then ARW_NODE_ID, then the hostname, then 'local'", () => {
    expect(nodeTarget({ RMX_NODE_ID: " rmx-1 ", ARW_NODE_ID: "arw" }, "host")).toBe("rmx-1");
    expect(nodeTarget({ RMX_NODE_ID: "  ", ARW_NODE_ID: " arw-1 " }, "host")).toBe("arw-1");
    expect(nodeTarget({ ARW_NODE_ID: "" }, " box ")).toBe("box");
    expect(nodeTarget({}, "  ")).toBe("local");
  });
});

describe("summarize and statusHeader", () => {
  it("builds the CLI header", () => {
    const runtimes = [
      runtime("a", "ready", { restart_budget: budget(3, 2, RESET) }),
      runtime("b", "ready", { restart_budget: budget(3, 1, RESET + 60_000) }),
      runtime("c", "failed", { reason: "exit code 1", restart_budget: budget(3, 0) }),
    ];
    const summary = summarize(runtimes, T0);
    expect(summary).toEqual({
      ready: 2,
      total: 3,
      min_restarts_left: 1,
      next_reset: rfc3339(RESET),
      attention_required: true,
      attention: ["c failed: exit code 1"],
    });
    expect(statusHeader(summary, rfc3339(T0), hhmmss)).toBe(
      "Runtimes (updated 12:00:05): 2/3 ready, minimum 1 restart left, next reset 12:09:41 — attention required",
    );
  });

  it("leaves out parts that do not apply", () => {
    const calm = summarize([runtime("a", "ready"), runtime("b", "idle")], T0);
    expect(calm).toEqual({ ready: 1, total: 2, min_restarts_left: 3, attention_required: false });
    expect(statusHeader(calm, rfc3339(T0), hhmmss)).toBe(
      "Runtimes (updated 12:00:05): 1/2 ready, minimum 3 restarts left",
    );
    const none = summarize([], T0);
    expect(statusHeader(none, rfc3339(T0), hhmmss)).toBe("Runtimes (updated 12:00:05): 0/0 ready");
  });

  it("requires attention for exhausted, offline-while-wanted and zero-budget runtimes; skips past resets", () => {
    const summary = summarize(
      [
        runtime("x", "exhausted", { restart_budget: budget(3, 3, RESET) }),
        runtime("y", "stopped"),
        runtime("z", "ready", { restart_budget: budget(2, 2, T0 - 1) }),
        runtime("w", "stopped", { desired: "stopped" }),
      ],
      T0,
    );
    expect(summary.attention).toEqual([
      "x restart budget exhausted",
      "y is stopped but desired running",
      "z has no automatic restarts left",
    ]);
    expect(summary.next_reset).toBe(rfc3339(RESET));
    expect(summary.min_restarts_left).toBe(0);
  });
});

// ─── Properties ────────────────────────────────────────────────────────────────────────────────

const budgetArb = fc
  .tuple(
    fc.integer({ min: 0, max: 5 }),
    fc.integer({ min: 0, max: 5 }),
    fc.integer({ min: 1, max: 3_600_000 }),
  )
  .map(([max, used, offset]) => {
    const u = Math.min(used, max);
    return budget(max, u, u > 0 ? T0 + offset : undefined);
  });

const runtimeArb = fc
  .record({
    id: fc.constantFrom("a", "b", "c", "llama-8b", "qwen"),
    state: fc.constantFrom(...STATES),
    desired: fc.constantFrom<"running" | "stopped">("running", "stopped"),
    reason: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
    hardware: fc.constantFrom("cpu", "gpu:0", "gpu:1"),
    restart_budget: budgetArb,
  })
  .map(({ id, state, ...extra }) => runtime(id, state, extra));

const httpArb = fc.option(
  fc
    .tuple(
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 4000 }),
    )
    .map(([hits, errors, ewma]): NodeEntry["http"] => {
      const e = Math.min(errors, hits);
      return hits === 0
        ? { routes: 0, hits: 0, errors: 0 }
        : { routes: 1, hits, errors: e, error_rate: e / hits, avg_ewma_ms: ewma };
    }),
  { nil: undefined },
);

const inputArb = fc.record({
  runtimes: fc.array(runtimeArb, { maxLength: 12 }),
  http: httpArb,
  busLagMs: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
});

const findingArb: fc.Arbitrary<Finding> = fc.record({
  code: fc.constantFrom<Finding["code"]>("degraded", "error", "offline"),
  reason: fc.string({ maxLength: 300 }),
});

describe("status composition properties", () => {
  it("the code is the maximum over findings; adding a finding never lowers it", () => {
    fc.assert(
      fc.property(fc.array(findingArb, { maxLength: 12 }), findingArb, (findings, extra) => {
        const before = nodeStatus(findings);
        const after = nodeStatus([...findings, extra]);
        expect(nodeCodeRank(after.code)).toBeGreaterThanOrEqual(nodeCodeRank(before.code));
        expect(nodeCodeRank(after.code)).toBeGreaterThanOrEqual(nodeCodeRank(extra.code));
        const expected = findings.reduce<NodeStatusCode>((code, f) => maxNodeCode(code, f.code), "ok");
        expect(before.code).toBe(expected);
      }),
    );
  });

  it("node entries: bounded reasons, label inside aria_hint, code = max finding, inputs untouched", () => {
    fc.assert(
      fc.property(inputArb, ({ runtimes, http, busLagMs }) => {
        const input = deepFreeze({ target: "n", now: T0, runtimes, http, busLagMs, formatTime: hhmmss });
        const node = composeNodeEntry(input);
        const detail = node.status.detail ?? [];
        expect(detail.length).toBeGreaterThan(0);
        expect(detail.length).toBeLessThanOrEqual(MAX_REASONS);
        for (const reason of detail) expect(reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
        expect(node.status.aria_hint).toContain(node.status.label);
        expect(node.status.aria_hint).toBe(`Runtime status ${node.status.label}. ${detail.join("; ")}`);
        const findings = nodeFindings(input);
        expect(node.status.code).toBe(
          findings.reduce<NodeStatusCode>((c, f) => maxNodeCode(c, f.code), "ok"),
        );
        expect(node.runtime.total).toBe(runtimes.length);
        const counted = Object.values(node.runtime.states ?? {}).reduce((a, b) => a + b, 0);
        expect(counted).toBe(runtimes.length);
      }),
    );
  });

  it("no latching: an entry depends only on its own inputs, whatever came before", () => {
    fc.assert(
      fc.property(inputArb, inputArb, (previous, current) => {
        const fresh = composeNodeEntry({ target: "n", now: T0, formatTime: hhmmss, ...current });
        composeNodeEntry({ target: "n", now: T0 - 5000, formatTime: hhmmss, ...previous });
        const again = composeNodeEntry({ target: "n", now: T0, formatTime: hhmmss, ...current });
        expect(again).toEqual(fresh);
      }),
    );
  });

  it("worse HTTP or bus numbers never lower the code", () => {
    fc.assert(
      fc.property(
        inputArb,
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 3000 }),
        ({ runtimes }, errors, ewma, lag) => {
          const http = (e: number, ms: number): NodeEntry["http"] => ({
            routes: 1,
            hits: 100,
            errors: e,
            error_rate: e / 100,
            avg_ewma_ms: ms,
          });
          const base = entry(runtimes, { http: http(errors, ewma), busLagMs: lag });
          const worse = entry(runtimes, {
            http: http(Math.min(100, errors + 7), ewma + 600),
            busLagMs: lag + 1200,
          });
          expect(nodeCodeRank(worse.status.code)).toBeGreaterThanOrEqual(nodeCodeRank(base.status.code));
          expect(nodeCodeRank(worse.status.code)).toBeGreaterThanOrEqual(nodeCodeRank("degraded"));
        },
      ),
    );
  });

  it("summaries: attention iff a line explains it; min_restarts_left ≤ every remaining", () => {
    fc.assert(
      fc.property(fc.array(runtimeArb, { maxLength: 12 }), (runtimes) => {
        const summary = summarize(runtimes, T0);
        expect(summary.attention_required).toBe((summary.attention ?? []).length > 0);
        expect(summary.ready).toBeLessThanOrEqual(summary.total);
        for (const rt of runtimes) {
          expect(summary.min_restarts_left).toBeLessThanOrEqual(rt.restart_budget.remaining);
          if (rt.state === "failed" || rt.state === "exhausted")
            expect(summary.attention_required).toBe(true);
        }
        if (summary.next_reset !== undefined) expect(Date.parse(summary.next_reset)).toBeGreaterThan(T0);
        const header = statusHeader(summary, rfc3339(T0), hhmmss);
        expect(header.endsWith("— attention required")).toBe(summary.attention_required);
      }),
    );
  });
});
