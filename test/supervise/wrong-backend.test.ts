/**
 * The state machine on `wrong_backend` (another server answers on the runtime's port, found by the start-up
 * poll): the process is stopped and the runtime `failed` with the reason, no restart and no budget spent;
 * in steady state the same outcome is an ordinary counted probe failure.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BackoffSpec, RestartBudgetSpec } from "../../base/spec.js";
import { budgetResetAt } from "../../daemon/supervise/budget.js";
import { initialMachine, type Machine, type StepContext, step } from "../../daemon/supervise/state.js";

const budget: RestartBudgetSpec = { max_restarts: 3, window_seconds: 600, retry_at_reset: true };
const backoff: BackoffSpec = {
  initial_ms: 500,
  max_ms: 30_000,
  factor: 2,
  jitter: 0.2,
  reset_after_ms: 60_000,
};
const T0 = 1_700_000_000_000;
const REASON = 'the server on 127.0.0.1:8000 is not the one rmxd launched: … lists ["x"], not "y"';

function ctx(now: number, over: Partial<StepContext> = {}): StepContext {
  return { now, budget, backoff, failureThreshold: 3, random: () => 0.5, ...over };
}

function starting(attempts: number[] = []): Machine {
  return step(initialMachine({ attempts, resets: [] }), { type: "start" }, ctx(T0)).machine;
}

describe("wrong_backend at start-up", () => {
  it("stops the process, then `failed` with the reason: no restart, no budget", () => {
    const m0 = starting();
    const caught = step(m0, { type: "wrong_backend", reason: REASON }, ctx(T0 + 500));
    expect(caught.effects).toEqual([{ type: "kill", intent: "fail" }]);
    expect(caught.machine).toMatchObject({ state: "stopping", reason: REASON, killing: "fail" });
    const ended = step(caught.machine, { type: "exited", code: 0, signal: null }, ctx(T0 + 600));
    expect(ended.machine).toMatchObject({ state: "failed", reason: REASON, alive: false, restartsTotal: 0 });
    expect(ended.machine.budget.attempts).toEqual([]);
    expect(ended.effects).toEqual([]); // nothing in the budget's window: no horizon to retry at
  });

  it("a stop during the kill wins: stopped", () => {
    let m = step(starting(), { type: "wrong_backend", reason: REASON }, ctx(T0 + 500)).machine;
    m = step(m, { type: "stop" }, ctx(T0 + 510)).machine;
    m = step(m, { type: "exited", code: 0, signal: null }, ctx(T0 + 600)).machine;
    expect(m.state).toBe("stopped");
  });

  it("is ignored once ready (steady probes judge it) and while a kill is in flight", () => {
    const ready = step(starting(), { type: "healthy" }, ctx(T0 + 100)).machine;
    expect(step(ready, { type: "wrong_backend", reason: REASON }, ctx(T0 + 200)).effects).toEqual([]);
    const killing = step(starting(), { type: "stop" }, ctx(T0 + 100)).machine;
    expect(step(killing, { type: "wrong_backend", reason: REASON }, ctx(T0 + 200)).effects).toEqual([]);
  });

  it("in steady state it is a counted failure: unhealthy at the threshold", () => {
    let m = step(starting(), { type: "healthy" }, ctx(T0 + 100)).machine;
    const fail = {
      type: "probe",
      probe: "health",
      ok: false,
      failure: "wrong_backend",
      label: "/health probe",
      detail: "not our backend",
    } as const;
    for (let i = 1; i <= 3; i++) m = step(m, fail, ctx(T0 + 100 + i)).machine;
    expect(m).toMatchObject({ killing: "unhealthy", state: "degraded" });
    expect(m.reason).toMatch(/failed 3\/3: not our backend$/);
  });

  it("property: whatever the budget log, `failed` spends nothing; a retry only at the budget's horizon", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 900_000 }), { maxLength: 3 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.boolean(),
        (ago, after, retryAtReset) => {
          const c = ctx(T0 + after, { budget: { ...budget, retry_at_reset: retryAtReset } });
          const m0 = starting(ago.map((a) => T0 - a).sort((a, b) => a - b));
          const caught = step(m0, { type: "wrong_backend", reason: REASON }, c).machine;
          const r = step(caught, { type: "exited", code: 0, signal: null }, c);
          expect(r.machine.state).toBe("failed");
          expect(r.machine.budget.attempts).toEqual(m0.budget.attempts);
          expect(r.machine.restartsTotal).toBe(m0.restartsTotal);
          const horizon = budgetResetAt(r.machine.budget, c.budget, c.now);
          const retry = r.effects.find((e) => e.type === "schedule_retry");
          if (retryAtReset && horizon !== undefined)
            expect(retry).toEqual({ type: "schedule_retry", at: horizon, kind: "reset" });
          else expect(retry).toBeUndefined();
        },
      ),
    );
  });
});
