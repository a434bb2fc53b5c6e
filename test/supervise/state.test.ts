import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BackoffSpec, RestartBudgetSpec } from "../../base/spec.js";
import { budgetView, canRestart } from "../../daemon/supervise/budget.js";
import {
  fullStep,
  type Input,
  initialMachine,
  type Machine,
  type ProbeFailure,
  type ProbeKind,
  type StepContext,
  step,
} from "../../daemon/supervise/state.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";

const budget: RestartBudgetSpec = { max_restarts: 3, window_seconds: 600, retry_at_reset: true };
const backoff: BackoffSpec = {
  initial_ms: 500,
  max_ms: 30_000,
  factor: 2,
  jitter: 0.2,
  reset_after_ms: 60_000,
};
const T0 = 1_700_000_000_000;

function ctx(now: number, over: Partial<StepContext> = {}): StepContext {
  return { now, budget, backoff, failureThreshold: 3, random: () => 0.5, ...over };
}

function probeFail(failure: ProbeFailure, probe: ProbeKind = "health"): Input {
  const detail =
    failure === "timeout"
      ? "no answer within 200 ms"
      : failure === "auth"
        ? "HTTP 401: backend refuses our key (401)"
        : "HTTP 500: boom";
  return {
    type: "probe",
    probe,
    ok: false,
    failure,
    label: probe === "health" ? "/health probe" : "inference probe",
    detail,
    ...(failure === "auth" ? { status: 401 } : {}),
  };
}

function run(inputs: Input[], start: Machine = initialMachine(), at = T0) {
  let m = start;
  const log: ReturnType<typeof step>[] = [];
  for (const input of inputs) {
    const r = step(m, input, ctx(at));
    log.push(r);
    m = r.machine;
  }
  return { m, log };
}

const ALIVE_STATES: RuntimeState[] = ["starting", "ready", "degraded", "stopping"];
const DEAD_STATES: RuntimeState[] = ["stopped", "backoff", "exhausted", "failed", "idle"];

describe("supervision state machine: examples", () => {
  it("start → spawned → healthy is ready, with one spawn effect and events for each change", () => {
    const { m, log } = run([{ type: "start" }, { type: "spawned" }, { type: "healthy" }]);
    expect(m.state).toBe("ready");
    expect(m.alive).toBe(true);
    expect(log.flatMap((r) => r.effects).filter((e) => e.type === "spawn")).toHaveLength(1);
    expect(log.map((r) => r.changed?.to).filter(Boolean)).toEqual(["starting", "ready"]);
  });

  it("a first start does not consume the restart budget", () => {
    const { m } = run([{ type: "start" }]);
    expect(m.budget.attempts).toHaveLength(0);
  });

  it("a crash while ready backs off, consumes one restart, then respawns when the retry is due", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }]);
    const crash = step(m, { type: "exited", code: 1, signal: null }, ctx(T0 + 1000));
    m = crash.machine;
    expect(m.state).toBe("backoff");
    expect(m.reason).toMatch(/exited \(exit code 1\)/);
    // The restart is stamped when it spawns, not at the crash (a long backoff must not hide it from a window).
    expect(m.budget.attempts).toEqual([]);
    const sched = crash.effects.find((e) => e.type === "schedule_retry");
    expect(sched).toMatchObject({ kind: "backoff" });
    const early = step(m, { type: "retry_due" }, ctx(T0 + 1001));
    expect(early.effects).toEqual([]);
    const due = step(m, { type: "retry_due" }, ctx(m.nextRetryAt!));
    expect(due.machine.state).toBe("starting");
    expect(due.effects.some((e) => e.type === "spawn")).toBe(true);
    expect(due.effects.some((e) => e.type === "restart_recorded")).toBe(true);
    expect(due.machine.budget.attempts).toEqual([m.nextRetryAt]);
  });

  it("a crash loop makes exactly max_restarts restarts, is exhausted, and retries once at reset_at", () => {
    let m = run([{ type: "start" }]).m;
    let now = T0;
    let restarts = 0;
    for (let i = 0; i < 10 && m.state !== "exhausted"; i++) {
      now += 100;
      const r = step(m, { type: "exited", code: 1, signal: null }, ctx(now));
      restarts += r.effects.filter((e) => e.type === "restart_recorded").length;
      m = r.machine;
      if (m.state === "backoff") {
        // The restart is recorded when the retry spawns.
        const due = step(m, { type: "retry_due" }, ctx(m.nextRetryAt!));
        restarts += due.effects.filter((e) => e.type === "restart_recorded").length;
        m = due.machine;
      }
      now = Math.max(now, m.startedAt ?? now);
    }
    expect(restarts, `restarts counted: ${restarts}`).toBe(3);
    expect(m.state).toBe("exhausted");
    expect(m.retryKind).toBe("reset");
    const resetAt = m.nextRetryAt!;
    expect(resetAt).toBe(m.budget.attempts[0]! + 600_000);
    const retry = step(m, { type: "retry_due" }, ctx(resetAt));
    expect(retry.machine.state).toBe("starting");
    expect(retry.effects.map((e) => e.type)).toContain("restart_recorded");
  });

  it("no retry is scheduled at reset when retry_at_reset is off", () => {
    let m = run([{ type: "start" }]).m;
    const c = ctx(T0, { budget: { ...budget, max_restarts: 0, retry_at_reset: false } });
    const r = step(m, { type: "exited", code: 2, signal: null }, c);
    m = r.machine;
    expect(m.state).toBe("exhausted");
    expect(m.nextRetryAt).toBeUndefined();
    expect(r.effects.some((e) => e.type === "schedule_retry")).toBe(false);
  });

  it("stop while running kills with intent stop and ends stopped on exit, without using budget", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }]);
    const s = step(m, { type: "stop" }, ctx(T0));
    expect(s.effects).toContainEqual({ type: "kill", intent: "stop" });
    m = step(s.machine, { type: "exited", code: 0, signal: null }, ctx(T0 + 5)).machine;
    expect(m.state).toBe("stopped");
    expect(m.budget.attempts).toHaveLength(0);
  });

  it("unhealthy kills and the exit counts as a failure with the probe's reason", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }]);
    for (let i = 0; i < 3; i++) m = step(m, probeFail("timeout"), ctx(T0)).machine;
    expect(m.killing).toBe("unhealthy");
    expect(m.reason).toBe("/health probe failed 3/3: no answer within 200 ms (hung?)");
    m = step(m, { type: "exited", code: null, signal: "SIGKILL" }, ctx(T0 + 10)).machine;
    expect(m.state).toBe("backoff");
    expect(m.reason).toMatch(/hung/);
  });

  it("restore on a running runtime records an attempt, kills, and respawns on exit", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }]);
    const r = step(m, { type: "restore", restart: true, reset_budget: false }, ctx(T0));
    expect(r.effects).toContainEqual({ type: "kill", intent: "restart" });
    m = step(r.machine, { type: "exited", code: 0, signal: null }, ctx(T0 + 1)).machine;
    expect(m.state).toBe("starting");
    expect(m.budget.attempts).toHaveLength(1);
  });

  it("restores during one stop each hold a slot (the next is judged against it) and are stamped at the respawn", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }]);
    const restore: Input = { type: "restore", restart: true, reset_budget: false };
    const kills: number[] = [];
    const left: number[] = [];
    let denied = 0;
    for (let i = 0; i < 5; i++) {
      const r = step(m, restore, ctx(T0 + i));
      m = r.machine;
      kills.push(r.effects.filter((e) => e.type === "kill").length);
      if (r.effects.some((e) => e.type === "denied")) denied++;
      else left.push(budgetView(m.budget, budget, T0 + i).remaining);
    }
    expect({ kills, left, denied }).toEqual({ kills: [1, 0, 0, 0, 0], left: [2, 1, 0], denied: 2 });
    expect(m.budget.attempts, "nothing stamped before the respawn").toEqual([]);
    const view = budgetView(m.budget, budget, T0 + 5);
    expect(view.reset_at, "reset_at counts the pending spawns from now").toBe(
      new Date(T0 + 5 + 600_000).toISOString(),
    );
    const r = step(m, { type: "exited", code: 0, signal: null }, ctx(T0 + 50));
    expect(r.machine.state).toBe("starting");
    expect(r.machine.budget.attempts, "stamped at the respawn").toEqual([T0 + 50, T0 + 50, T0 + 50]);
    expect(r.machine.budget.pending).toBeUndefined();
    expect(r.effects.filter((e) => e.type === "spawn")).toHaveLength(1);
  });

  it("a stop during a restore's kill frees its reserved slot", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }]);
    m = step(m, { type: "restore", restart: true, reset_budget: false }, ctx(T0)).machine;
    expect(budgetView(m.budget, budget, T0).remaining).toBe(2);
    m = step(m, { type: "stop" }, ctx(T0 + 1)).machine;
    m = step(m, { type: "exited", code: 0, signal: null }, ctx(T0 + 2)).machine;
    expect(m.state).toBe("stopped");
    expect(budgetView(m.budget, budget, T0 + 2)).toMatchObject({ used: 0, remaining: 3 });
  });

  it("a crash with the log full is exhausted at once, even if a slot frees during the backoff", () => {
    const slow: BackoffSpec = { ...backoff, initial_ms: 1000, jitter: 0 };
    const at = (now: number) => ctx(now, { backoff: slow });
    // Three stamped restarts, the oldest about to leave the window: a backoff would outlast it.
    let m: Machine = {
      ...initialMachine({ attempts: [T0 - 600_000 + 500, T0 - 10, T0 - 5], resets: [] }, "running"),
    };
    m = step(m, { type: "start" }, at(T0)).machine;
    const r = step(m, { type: "exited", code: 3, signal: null }, at(T0 + 1));
    expect(r.machine.state).toBe("exhausted");
    expect(r.machine.nextRetryAt, "the retry is not sooner than the backoff would have been").toBe(
      T0 + 1 + 1000,
    );
  });

  it("restore is denied when exhausted, and accepted with reset_budget", () => {
    let m = run([{ type: "start" }]).m;
    m = { ...m, budget: { attempts: [T0, T0 + 1, T0 + 2], resets: [] } };
    m = step(m, { type: "exited", code: 1, signal: null }, ctx(T0 + 3)).machine;
    expect(m.state).toBe("exhausted");
    expect(m.budget.exhausted_at, "exhaustion is part of the persisted budget").toBe(T0 + 3);
    const denied = step(m, { type: "restore", restart: true, reset_budget: false }, ctx(T0 + 4));
    expect(denied.effects).toContainEqual({ type: "denied", reason: "Restart budget exhausted" });
    expect(denied.machine.state).toBe("exhausted");
    const ok = step(m, { type: "restore", restart: true, reset_budget: true }, ctx(T0 + 4));
    expect(ok.machine.state).toBe("starting");
    expect(ok.machine.budget.exhausted_at).toBeUndefined();
    expect(ok.machine.budget.attempts).toEqual([T0 + 4]);
    expect(ok.machine.budget.resets).toEqual([T0 + 4]);
  });

  it("a spawn failure is failed with the reason and nothing is retried automatically", () => {
    const { m, log } = run([
      { type: "start" },
      { type: "spawn_failed", reason: "binary not found: llama-server" },
    ]);
    expect(m.state).toBe("failed");
    expect(m.reason).toBe("binary not found: llama-server");
    expect(log[1]!.effects.some((e) => e.type === "schedule_retry")).toBe(false);
  });

  it("start_timeout kills and the exit during start-up is a failure", () => {
    let m = run([{ type: "start" }]).m;
    m = step(m, { type: "start_timeout", reason: "not healthy within 2 s of start" }, ctx(T0 + 2000)).machine;
    m = step(m, { type: "exited", code: null, signal: "SIGTERM" }, ctx(T0 + 2100)).machine;
    expect(m.state).toBe("backoff");
    expect(m.reason).toMatch(/not healthy within 2 s/);
  });

  it("idle stops into its own state without budget, and start brings it back fresh", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }, { type: "idle" }]);
    m = step(m, { type: "exited", code: 0, signal: null }, ctx(T0)).machine;
    expect(m.state).toBe("idle");
    expect(m.budget.attempts).toHaveLength(0);
    m = step(m, { type: "start" }, ctx(T0)).machine;
    expect(m.state).toBe("starting");
    expect(m.budget.attempts).toHaveLength(0);
  });

  it("reconfigure restarts a running runtime on the new spec without using the budget", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }]);
    const r = step(m, { type: "reconfigure" }, ctx(T0));
    expect(r.effects).toContainEqual({ type: "kill", intent: "restart" });
    m = step(r.machine, { type: "exited", code: 0, signal: null }, ctx(T0 + 1)).machine;
    expect(m.state).toBe("starting");
    expect(m.budget.attempts).toHaveLength(0);
    const stopped = run([{ type: "start" }, { type: "stop" }]).m;
    expect(step(stopped, { type: "reconfigure" }, ctx(T0)).effects).toEqual([]);
  });

  it("degraded probes below the threshold recover to ready", () => {
    let { m } = run([{ type: "start" }, { type: "healthy" }, probeFail("http_error")]);
    expect(m.state).toBe("degraded");
    expect(m.reason).toBe("/health probe failed 1/3: HTTP 500: boom");
    m = step(m, { type: "probe", probe: "health", ok: true }, ctx(T0)).machine;
    expect(m.state).toBe("ready");
  });

  it("backoff grows with consecutive short runs and resets after a stable uptime", () => {
    let m = run([{ type: "start" }]).m;
    const c = ctx(T0, { budget: { ...budget, max_restarts: 100 } });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = step(m, { type: "exited", code: 1, signal: null }, c);
      delays.push(r.machine.nextRetryAt! - T0);
      m = step(r.machine, { type: "retry_due" }, { ...c, now: r.machine.nextRetryAt! }).machine;
    }
    expect(delays[1]).toBeGreaterThan(delays[0]!);
    expect(delays[2]).toBeGreaterThan(delays[1]!);
    m = step(m, { type: "healthy" }, c).machine;
    const late = step(m, { type: "exited", code: 1, signal: null }, { ...c, now: m.readyAt! + 120_000 });
    expect(late.machine.failures).toBe(1);
  });
});

// ─── Exhaustive: every input from every reachable state keeps the invariants ─────────────────

const INPUTS: Input[] = [
  { type: "start" },
  { type: "stop" },
  { type: "restore", restart: true, reset_budget: false },
  { type: "restore", restart: true, reset_budget: true },
  { type: "restore", restart: false, reset_budget: true },
  { type: "spawned" },
  { type: "spawn_failed", reason: "x" },
  { type: "resume" },
  { type: "healthy" },
  { type: "probe", probe: "health", ok: true },
  { type: "probe", probe: "inference", ok: true },
  probeFail("http_error"),
  probeFail("timeout", "inference"),
  probeFail("auth"),
  probeFail("auth", "inference"),
  { type: "start_timeout", reason: "t" },
  { type: "wrong_backend", reason: "w" },
  probeFail("wrong_backend"),
  { type: "exited", code: 1, signal: null },
  { type: "exited", code: null, signal: "SIGKILL" },
  { type: "retry_due" },
  { type: "idle" },
  { type: "reconfigure" },
];

function checkInvariants(before: Machine, r: ReturnType<typeof step>, c: StepContext): void {
  const m = r.machine;
  if (m.alive) expect(ALIVE_STATES).toContain(m.state);
  else expect(DEAD_STATES).toContain(m.state);
  expect(
    m.budget.attempts.filter((a) => a > c.now - c.budget.window_seconds * 1000).length,
  ).toBeLessThanOrEqual(c.budget.max_restarts);
  const spawns = r.effects.filter((e) => e.type === "spawn").length;
  const kills = r.effects.filter((e) => e.type === "kill").length;
  expect(spawns).toBeLessThanOrEqual(1);
  expect(kills).toBeLessThanOrEqual(1);
  if (spawns === 1) {
    expect(before.alive && before.killing === undefined).toBe(false);
    expect(m.generation).toBe(before.generation + 1);
  } else {
    expect(m.generation).toBe(before.generation);
  }
  if (kills === 1) expect(before.alive).toBe(true);
  const recorded = r.effects.filter((e) => e.type === "restart_recorded").length;
  expect(m.restartsTotal - before.restartsTotal).toBe(recorded);
  if (m.state === "exhausted" && before.state !== "exhausted")
    expect(canRestart(m.budget, c.budget, c.now)).toBe(false);
  if (m.state === "backoff" || m.state === "exhausted") expect(m.desired).toBe("running");
  if (r.changed) expect(r.changed.to).toBe(m.state);
  else expect(m.state).toBe(before.state);
}

describe("supervision state machine: exhaustive over reachable states", () => {
  it("every input from every state reachable in ≤ 4 steps keeps the invariants", () => {
    const seen = new Map<string, Machine>();
    // Also a machine built after a daemon restart with the budget full and the runtime persisted running.
    const full = { attempts: [T0 - 3, T0 - 2, T0 - 1], resets: [] };
    let frontier: Machine[] = [initialMachine(), initialMachine(full, "running")];
    let checked = 0;
    for (let depth = 0; depth < 4; depth++) {
      const next: Machine[] = [];
      for (const m of frontier) {
        for (const input of INPUTS) {
          const c = ctx(T0 + depth * 1000);
          const r = step(m, input, c);
          checkInvariants(m, r, c);
          checked++;
          const key = JSON.stringify({ ...r.machine, budget: r.machine.budget.attempts.length });
          if (!seen.has(key)) {
            seen.set(key, r.machine);
            next.push(r.machine);
          }
        }
      }
      frontier = next;
    }
    expect(checked, `transitions checked: ${checked}`).toBeGreaterThan(1000);
    const states = new Set([...seen.values()].map((m) => m.state));
    expect([...states].sort()).toEqual([...ALIVE_STATES, ...DEAD_STATES].sort());
  });
});

describe("supervision state machine: properties", () => {
  const inputArb = fc.constantFrom(...INPUTS);
  it("random input sequences at random times keep the invariants", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(inputArb, fc.integer({ min: 0, max: 400_000 })), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 900 }),
        (seq, max, windowS) => {
          const c0 = { budget: { max_restarts: max, window_seconds: windowS, retry_at_reset: true } };
          let m = initialMachine();
          let now = T0;
          for (const [input, dt] of seq) {
            now += dt;
            const c = ctx(now, c0);
            const r = step(m, input, c);
            checkInvariants(m, r, c);
            m = r.machine;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the shortcut for probes that change nothing computes what the full step does, on every path", () => {
    // Probes weighted up so ready and degraded machines meet every kind of them, repeatedly.
    const probes = INPUTS.filter((i) => i.type === "probe");
    const mixed = fc.oneof(
      { weight: 2, arbitrary: inputArb },
      { weight: 3, arbitrary: fc.constantFrom(...probes) },
    );
    let shortcuts = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(mixed, fc.integer({ min: 0, max: 100_000 })), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        (seq, threshold) => {
          let m = initialMachine();
          let now = T0;
          for (const [input, dt] of seq) {
            now += dt;
            const c = ctx(now, { failureThreshold: threshold });
            const r = step(m, input, c);
            expect(r).toEqual(fullStep(m, input, c));
            if (r.machine === m) {
              shortcuts++;
              expect(r.effects).toEqual([]);
              expect(r.changed).toBeUndefined();
            }
            m = r.machine;
          }
        },
      ),
      { numRuns: 400 },
    );
    expect(shortcuts, "probes that took the shortcut").toBeGreaterThan(100);
  });

  it("a desired-stopped runtime never spawns by itself", () => {
    const autonomous = INPUTS.filter((i) => i.type !== "start" && i.type !== "restore");
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...autonomous), { maxLength: 40 }), (seq) => {
        let m = run([{ type: "start" }, { type: "healthy" }, { type: "stop" }]).m;
        for (const input of seq) {
          const r = step(m, input, ctx(T0 + 10_000_000));
          expect(r.effects.some((e) => e.type === "spawn")).toBe(false);
          m = r.machine;
        }
      }),
    );
  });
});

describe("supervision state machine: probe failures decide health", () => {
  it("a restart for unhealthy happens iff failure_threshold consecutive failures arrive with no ok between", () => {
    const probeArb = fc.oneof(
      fc.record({ probe: fc.constantFrom<ProbeKind>("health", "inference"), ok: fc.constant(true as const) }),
      fc.record({
        probe: fc.constantFrom<ProbeKind>("health", "inference"),
        ok: fc.constant(false as const),
        failure: fc.constantFrom<ProbeFailure>("loading", "refused", "timeout", "http_error", "error"),
      }),
    );
    fc.assert(
      fc.property(fc.array(probeArb, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (seq, threshold) => {
        let m = run([{ type: "start" }, { type: "healthy" }]).m;
        const model: Record<ProbeKind, number> = { health: 0, inference: 0 };
        for (const p of seq) {
          const input: Input = p.ok
            ? { type: "probe", probe: p.probe, ok: true }
            : probeFail(p.failure, p.probe);
          const r = step(m, input, ctx(T0, { failureThreshold: threshold }));
          model[p.probe] = p.ok ? 0 : model[p.probe] + 1;
          const killed = r.effects.some((e) => e.type === "kill" && e.intent === "unhealthy");
          expect(killed, `${JSON.stringify(model)} of ${threshold}`).toBe(model[p.probe] >= threshold);
          m = r.machine;
          if (killed) {
            // The kill's exit is a failure the budget answers for: a restart (backoff) here.
            const exit = step(m, { type: "exited", code: null, signal: "SIGTERM" }, ctx(T0 + 1));
            expect(exit.machine.state).toBe("backoff");
            return;
          }
          expect(m.state).toBe(model.health + model.inference > 0 ? "degraded" : "ready");
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("supervision state machine: a refused key is degraded, never a restart", () => {
  it("401 from a probe: degraded with the key's reason, one probe_failed, and an ok brings it back", () => {
    const ready = run([{ type: "start" }, { type: "healthy" }]).m;
    const first = step(ready, probeFail("auth"), ctx(T0));
    expect(first.machine.state).toBe("degraded");
    expect(first.machine.reason).toBe("backend refuses our key (401)");
    expect(first.effects.map((e) => e.type)).toEqual(["probe_failed"]);
    const again = step(first.machine, probeFail("auth"), ctx(T0 + 1));
    expect(again.effects, "a repeat changes nothing").toEqual([]);
    const back = step(again.machine, { type: "probe", probe: "health", ok: true }, ctx(T0 + 2));
    expect(back.machine.state).toBe("ready");
  });

  it("auth failures never lead to a restart, whatever else the probes say and however often", () => {
    const probeArb = fc.oneof(
      fc.record({ probe: fc.constantFrom<ProbeKind>("health", "inference"), ok: fc.constant(true as const) }),
      fc.record({
        probe: fc.constantFrom<ProbeKind>("health", "inference"),
        ok: fc.constant(false as const),
        failure: fc.constantFrom<ProbeFailure>("auth", "auth", "auth", "http_error", "timeout"),
      }),
    );
    fc.assert(
      fc.property(fc.array(probeArb, { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (seq, threshold) => {
        let m = run([{ type: "start" }, { type: "healthy" }]).m;
        const real: Record<ProbeKind, number> = { health: 0, inference: 0 };
        for (const p of seq) {
          const input: Input = p.ok
            ? { type: "probe", probe: p.probe, ok: true }
            : probeFail(p.failure, p.probe);
          const r = step(m, input, ctx(T0, { failureThreshold: threshold }));
          if (!p.ok && p.failure === "auth") {
            expect(r.effects.some((e) => e.type === "kill" || e.type === "spawn")).toBe(false);
            expect(r.machine.probeFailures, "not counted toward the threshold").toEqual(m.probeFailures);
            expect(r.machine.state).toBe("degraded");
          } else real[p.probe] = p.ok ? 0 : real[p.probe] + 1;
          const killed = r.effects.some((e) => e.type === "kill");
          // Only failures that are not a refused key, threshold of them in a row, kill.
          expect(killed).toBe(!p.ok && p.failure !== "auth" && real[p.probe] >= threshold);
          if (killed) return;
          expect(r.machine.restartsTotal).toBe(0);
          m = r.machine;
        }
      }),
      { numRuns: 500 },
    );
  });
});

// ─── The budget guarantee across crashes, restores and daemon restarts ────────────────────────

type Event =
  | { kind: "crash"; dt: number }
  | { kind: "healthy"; dt: number }
  | { kind: "restore"; dt: number; reset: boolean }
  | { kind: "daemon_restart"; dt: number };

/**
 * Spawns, under an injected clock, of one runtime started once by the user and then left to crashes,
 * manual restores (with or without reset_budget) and daemon restarts (the machine rebuilt from the
 * persisted budget and desired state, as rmxd does, then resumed). Retries fire when due, in order.
 */
function simulate(events: Event[], limits: RestartBudgetSpec) {
  const c = (now: number): StepContext => ctx(now, { budget: limits });
  const spawns: { at: number; segment: number }[] = [];
  let segment = 0;
  let now = T0;
  let m = initialMachine();
  const apply = (input: Input) => {
    const r = step(m, input, c(now));
    if (r.effects.some((e) => e.type === "budget_reset")) segment++;
    if (r.effects.some((e) => e.type === "spawn")) spawns.push({ at: now, segment });
    m = r.machine;
    if (r.effects.some((e) => e.type === "spawn")) m = step(m, { type: "spawned" }, c(now)).machine;
  };
  apply({ type: "start" });
  for (const e of events) {
    const target = now + e.dt;
    while (m.nextRetryAt !== undefined && m.nextRetryAt <= target) {
      now = Math.max(now, m.nextRetryAt);
      apply({ type: "retry_due" });
    }
    now = target;
    if (e.kind === "crash") apply({ type: "exited", code: 1, signal: null });
    else if (e.kind === "healthy") apply({ type: "healthy" });
    else if (e.kind === "restore") apply({ type: "restore", restart: true, reset_budget: e.reset });
    else {
      // The old daemon and its child are gone; only the persisted record survives (JSON round trip).
      const persisted = JSON.parse(JSON.stringify({ budget: m.budget, desired: m.desired }));
      m = initialMachine(persisted.budget, persisted.desired);
      if (m.desired === "running") apply({ type: "resume" });
    }
  }
  return spawns;
}

describe("restart budget: no window holds more than the budget, across daemon restarts", () => {
  it("spawns in any window_seconds ≤ max_restarts + the initial start (per stretch between budget resets)", () => {
    const dt = fc.integer({ min: 0, max: 4000 });
    const eventArb: fc.Arbitrary<Event> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("crash" as const), dt }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("healthy" as const), dt }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("restore" as const), dt, reset: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant("daemon_restart" as const), dt }) },
    );
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 80 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 30 }),
        fc.boolean(),
        (events, max, windowS, retryAtReset) => {
          const limits = { max_restarts: max, window_seconds: windowS, retry_at_reset: retryAtReset };
          const spawns = simulate(events, limits);
          const windowMs = windowS * 1000;
          for (const first of spawns) {
            const inWindow = spawns.filter(
              (s) => s.segment === first.segment && s.at >= first.at && s.at < first.at + windowMs,
            ).length;
            // The initial start is the only spawn not stamped in the log; it is in segment 0.
            const allowed = max + (first.segment === 0 ? 1 : 0);
            expect(
              inWindow,
              `${inWindow} spawns in ${windowS} s from ${first.at - T0} ms`,
            ).toBeLessThanOrEqual(allowed);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("a daemon restart brings an exhausted runtime back exhausted, retrying only at reset_at", () => {
    const limits = { max_restarts: 1, window_seconds: 10, retry_at_reset: true };
    const c = (now: number) => ctx(now, { budget: limits });
    let m = step(initialMachine(), { type: "start" }, c(T0)).machine;
    m = step(m, { type: "exited", code: 1, signal: null }, c(T0 + 100)).machine;
    m = step(m, { type: "retry_due" }, c(m.nextRetryAt!)).machine;
    const stamped = m.budget.attempts[0]!;
    m = step(m, { type: "exited", code: 1, signal: null }, c(stamped + 100)).machine;
    expect(m.state).toBe("exhausted");
    const persisted = JSON.parse(JSON.stringify(m.budget));
    const resumed = step(initialMachine(persisted, "running"), { type: "resume" }, c(stamped + 2000));
    expect(resumed.machine.state).toBe("exhausted");
    expect(resumed.effects.some((e) => e.type === "spawn")).toBe(false);
    expect(resumed.machine.nextRetryAt).toBe(stamped + 10_000);
    const off = step(
      initialMachine(persisted, "running"),
      { type: "resume" },
      {
        ...c(stamped + 20_000),
        budget: { ...limits, retry_at_reset: false },
      },
    );
    expect(off.machine.state, "without retry_at_reset it waits for a restore").toBe("exhausted");
    const later = step(initialMachine(persisted, "running"), { type: "resume" }, c(stamped + 20_000));
    expect(later.machine.state, "after reset_at a resume is a counted restart").toBe("starting");
    expect(later.machine.budget.attempts).toEqual([stamped + 20_000]);
  });
});
