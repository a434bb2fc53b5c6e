import { describe, expect, it } from "vitest";
import { checkExhaustedStatus, checkReadyStatus, type ReadyExpectation } from "../smoke/status-checks.js";

// biome-ignore lint/suspicious/noExplicitAny: fixtures are mutated freely, one field broken at a time
type Loose = Record<string, any>;

const T = "2026-01-02T03:04:05.678Z";
const EXPECT: ReadyExpectation = {
  id: "rt",
  adapter: "llama-stub",
  maxRestarts: 3,
  windowSeconds: 600,
  used: 0,
};

/** What `rmx runtime status --json` prints for one ready runtime (shape taken from a real run). */
function readyStatus(): Loose {
  return {
    generated: T,
    node: {
      target: "box",
      status: {
        code: "ok",
        severity: "info",
        severity_label: "Info",
        label: "Ready - Runtime telemetry nominal",
        detail: ["Running within expected ranges"],
        aria_hint: "Runtime status Ready - Runtime telemetry nominal. Running within expected ranges",
      },
      generated: T,
      http: { routes: 0, hits: 0, errors: 0 },
      runtime: {
        total: 1,
        updated: T,
        states: { ready: 1 },
        severity: { info: 1 },
        by_accelerator: { CPU: { total: 1 } },
      },
    },
    summary: { ready: 1, total: 1, attention_required: false, min_restarts_left: 3 },
    runtimes: [
      {
        id: "rt",
        adapter: "llama-stub",
        state: "ready",
        status: {
          code: "ready",
          severity: "info",
          severity_label: "Info",
          label: "Ready",
          aria_hint: "Runtime rt status Ready.",
        },
        desired: "running",
        hardware: "cpu",
        sandbox: "none",
        restarts_total: 0,
        restart_budget: { max_restarts: 3, window_seconds: 600, used: 0, remaining: 3 },
        health: { window_seconds: 300, requests: 1, errors: 0, error_rate: 0, last_ok_at: T, p50_ms: 4 },
        pid: 4771,
        port: 38043,
        endpoint: "http://127.0.0.1:38043",
        started_at: T,
        uptime_seconds: 1,
        ready_at: T,
      },
    ],
  };
}

describe("checkReadyStatus", () => {
  it("accepts a sensible status", () => {
    expect(checkReadyStatus(readyStatus(), EXPECT)).toEqual([]);
  });

  it.each<[string, (s: Loose) => void, RegExp]>([
    [
      "a missing aria_hint",
      (s) => delete s.runtimes[0].status.aria_hint,
      /^runtimes\[rt\]\.status\.aria_hint: expected a non-empty string, got undefined$/,
    ],
    [
      "a blank label",
      (s) => (s.runtimes[0].status.label = " "),
      /^runtimes\[rt\]\.status\.label: expected a non-empty string/,
    ],
    [
      "an aria_hint without the label",
      (s) => (s.runtimes[0].status.aria_hint = "Runtime rt status fine."),
      /aria_hint: expected to contain the label "Ready"/,
    ],
    [
      "an aria_hint about another runtime",
      (s) => (s.runtimes[0].status.aria_hint = "Runtime xx status Ready."),
      /aria_hint: expected to start with "Runtime rt status "/,
    ],
    [
      "a severity_label that disagrees",
      (s) => (s.runtimes[0].status.severity_label = "Warn"),
      /status\.severity_label: expected "Info", got "Warn"/,
    ],
    [
      "an unknown code",
      (s) => (s.runtimes[0].status.code = "fine"),
      /status\.code: expected one of starting, ready, degraded, error, offline/,
    ],
    [
      "a node code from the runtime vocabulary",
      (s) => (s.node.status.code = "ready"),
      /^node\.status\.code: expected one of ok, degraded, error, offline/,
    ],
    [
      "an empty detail line",
      (s) => (s.node.status.detail = [""]),
      /^node\.status\.detail: expected absent, or a list of non-empty strings/,
    ],
    ["a missing node target", (s) => delete s.node.target, /^node\.target: expected a non-empty string/],
    [
      "a node http block without hits",
      (s) => delete s.node.http.hits,
      /^node\.http\.hits: expected an integer >= 0/,
    ],
    [
      "a bad generated time",
      (s) => (s.generated = "yesterday"),
      /^generated: expected an RFC 3339 time, got "yesterday"$/,
    ],
    ["a wrong summary count", (s) => (s.summary.ready = 0), /^summary\.ready: expected 1, got 0$/],
    [
      "attention where none is due",
      (s) => (s.summary.attention_required = true),
      /^summary\.attention_required: expected false/,
    ],
    [
      "a budget that does not add up",
      (s) => (s.runtimes[0].restart_budget.remaining = 2),
      /restart_budget\.remaining: expected 3, got 2/,
    ],
    [
      "a reset_at with nothing used",
      (s) => (s.runtimes[0].restart_budget.reset_at = T),
      /restart_budget\.reset_at: expected undefined/,
    ],
    [
      "no pid",
      (s) => delete s.runtimes[0].pid,
      /^runtimes\[rt\]\.pid: expected an integer >= 1, got undefined$/,
    ],
    [
      "an endpoint on another port",
      (s) => (s.runtimes[0].endpoint = "http://127.0.0.1:1"),
      /endpoint: expected "http:\/\/127\.0\.0\.1:38043"/,
    ],
    [
      "no health sample",
      (s) => (s.runtimes[0].health.requests = 0),
      /health\.requests: expected an integer >= 1, got 0/,
    ],
    [
      "an error rate above 1",
      (s) => (s.runtimes[0].health.error_rate = 2),
      /health\.error_rate: expected a number from 0 to 1/,
    ],
    [
      "a runtime not ready",
      (s) => (s.runtimes[0].state = "starting"),
      /^runtimes\[rt\]\.state: expected "ready", got "starting"$/,
    ],
    [
      "two runtimes",
      (s) => s.runtimes.push(s.runtimes[0]),
      /^runtimes: expected a list of exactly one runtime/,
    ],
    [
      "another runtime",
      (s) => (s.runtimes[0].id = "other"),
      /^runtimes\[\]\.id: expected "rt", got "other"$/,
    ],
  ])("names the field for %s", (_what, mutate, problem) => {
    const status = readyStatus();
    mutate(status);
    const problems = checkReadyStatus(status, EXPECT);
    expect(
      problems.some((line) => problem.test(line)),
      problems.join("\n"),
    ).toBe(true);
  });

  it("checks the port and model the user asked for, and the reset time once a restart is used", () => {
    const status = readyStatus();
    expect(checkReadyStatus(status, { ...EXPECT, port: 9000, model: "/m.gguf" })).toEqual([
      "runtimes[rt].port: expected 9000, got 38043",
      'runtimes[rt].model: expected "/m.gguf", got undefined',
    ]);
    expect(checkReadyStatus(status, { ...EXPECT, used: 1 })).toEqual(
      expect.arrayContaining([
        "summary.min_restarts_left: expected 2, got 3",
        "summary.next_reset: expected an RFC 3339 time, got undefined",
        "runtimes[rt].restart_budget.reset_at: expected an RFC 3339 time, got undefined",
      ]),
    );
  });

  it("refuses what is not a status at all", () => {
    expect(checkReadyStatus("nope", EXPECT)).toEqual(['status: expected a JSON object, got "nope"']);
  });
});

describe("checkExhaustedStatus", () => {
  function exhausted(): Loose {
    const s = readyStatus();
    s.runtimes[0].restart_budget = {
      max_restarts: 3,
      window_seconds: 600,
      used: 3,
      remaining: 0,
      reset_at: T,
    };
    s.summary = {
      ...s.summary,
      min_restarts_left: 0,
      attention_required: true,
      attention: ["rt has no automatic restarts left"],
    };
    return s;
  }

  it("accepts a runtime still serving with no restarts left and the attention line", () => {
    expect(checkExhaustedStatus(exhausted(), "rt", 3)).toEqual([]);
  });

  it("wants the attention line and an empty budget", () => {
    const s = exhausted();
    s.summary.attention = [];
    s.runtimes[0].restart_budget.remaining = 1;
    expect(checkExhaustedStatus(s, "rt", 3)).toEqual([
      "runtimes[rt].restart_budget.remaining: expected 0, got 1",
      "summary.attention: expected a line about rt, got []",
    ]);
  });
});
