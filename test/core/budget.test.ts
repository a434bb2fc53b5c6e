import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rfc3339 } from "../../base/clock.js";
import {
  BUDGET_CLOCK_SKEW_MS,
  type BudgetLimits,
  type BudgetLog,
  budgetResetAt,
  budgetView,
  canRestart,
  emptyBudgetLog,
  KEPT_RESETS,
  MIN_KEPT_ATTEMPTS,
  parseBudgetLog,
  pruneBudget,
  recordAttempt,
  resetBudget,
  sanitizeBudgetLog,
} from "../../daemon/supervise/budget.js";
import { budgetLine } from "../../ipc/cli/format.js";
import { budgetExhausted, budgetLow } from "../../ipc/protocol/runtime.js";
import { budget, deepFreeze, hhmmss, T0 } from "./fixtures.js";

const LIMITS: BudgetLimits = { max_restarts: 3, window_seconds: 600 };
const W = 600_000;

function logOf(...attempts: number[]): BudgetLog {
  return { attempts, resets: [] };
}

describe("restart budget (sliding log)", () => {
  it("starts full with no reset horizon", () => {
    const log = emptyBudgetLog();
    expect(canRestart(log, LIMITS, T0)).toBe(true);
    expect(budgetView(log, LIMITS, T0)).toEqual({
      max_restarts: 3,
      window_seconds: 600,
      used: 0,
      remaining: 3,
    });
    expect(budgetResetAt(log, LIMITS, T0)).toBeUndefined();
  });

  it("counts attempts in the window and frees a slot when the oldest leaves it", () => {
    let log = emptyBudgetLog();
    log = recordAttempt(log, LIMITS, T0);
    expect(budgetView(log, LIMITS, T0)).toEqual({
      max_restarts: 3,
      window_seconds: 600,
      used: 1,
      remaining: 2,
      reset_at: rfc3339(T0 + W),
    });
    log = recordAttempt(log, LIMITS, T0 + 10_000);
    log = recordAttempt(log, LIMITS, T0 + 20_000);
    expect(canRestart(log, LIMITS, T0 + 20_000)).toBe(false);
    expect(budgetView(log, LIMITS, T0 + 20_000)).toMatchObject({
      used: 3,
      remaining: 0,
      reset_at: rfc3339(T0 + W),
    });
    // One millisecond before the horizon it is still exhausted; at the horizon the oldest attempt is out.
    expect(canRestart(log, LIMITS, T0 + W - 1)).toBe(false);
    expect(canRestart(log, LIMITS, T0 + W)).toBe(true);
    expect(budgetView(log, LIMITS, T0 + W)).toMatchObject({
      used: 2,
      remaining: 1,
      reset_at: rfc3339(T0 + 10_000 + W),
    });
  });

  it("prunes an attempt at exactly now - window and keeps the last 20 resets", () => {
    const log: BudgetLog = {
      attempts: [T0 - W, T0 - W + 1, T0],
      resets: Array.from({ length: 25 }, (_, i) => T0 - 100_000 + i),
    };
    const pruned = pruneBudget(log, LIMITS, T0);
    expect(pruned.attempts).toEqual([T0 - W + 1, T0]);
    expect(pruned.resets).toHaveLength(KEPT_RESETS);
    expect(pruned.resets[0]).toBe(T0 - 100_000 + 5);
  });

  it("stays exhausted when an attempt is recorded past exhaustion, and the log stays bounded", () => {
    let log = logOf(T0, T0 + 1, T0 + 2);
    for (let i = 0; i < 300; i++) {
      log = recordAttempt(log, LIMITS, T0 + 3 + i);
      expect(canRestart(log, LIMITS, T0 + 3 + i)).toBe(false);
      expect(budgetView(log, LIMITS, T0 + 3 + i)).toMatchObject({ used: 3, remaining: 0 });
    }
    expect(log.attempts.length).toBe(MIN_KEPT_ATTEMPTS);
    // The next slot frees when the count drops below max: the third-newest attempt leaves the window.
    const last = T0 + 302;
    expect(budgetResetAt(log, LIMITS, last)).toBe(last - 2 + W);
    expect(canRestart(log, LIMITS, last - 2 + W - 1)).toBe(false);
    expect(canRestart(log, LIMITS, last - 2 + W)).toBe(true);
  });

  it("reset_budget clears attempts and records when it was used", () => {
    const log = deepFreeze(logOf(T0, T0 + 1, T0 + 2));
    const reset = resetBudget(log, T0 + 5);
    expect(reset).toEqual({ attempts: [], resets: [T0 + 5] });
    expect(canRestart(reset, LIMITS, T0 + 5)).toBe(true);
    let many = reset;
    for (let i = 0; i < 30; i++) many = resetBudget(many, T0 + 10 + i);
    expect(many.resets).toHaveLength(KEPT_RESETS);
    expect(many.resets.at(-1)).toBe(T0 + 39);
  });

  it("keeps the log sorted when the clock steps backwards", () => {
    const log = recordAttempt(logOf(T0, T0 + 5_000), LIMITS, T0 + 2_000);
    expect(log.attempts).toEqual([T0, T0 + 2_000, T0 + 5_000]);
    const resets = resetBudget({ attempts: [], resets: [T0, T0 + 5_000] }, T0 + 1_000).resets;
    expect(resets).toEqual([T0, T0 + 1_000, T0 + 5_000]);
    expect(parseBudgetLog(log)).toEqual(log);
  });

  it("reinterprets the same log when max or window change on a config reload", () => {
    const log = logOf(T0, T0 + 60_000, T0 + 120_000, T0 + 180_000);
    const now = T0 + 200_000;
    // max lowered to 2: used is capped, and the slot frees when only one attempt is left in the window.
    const lowered = { max_restarts: 2, window_seconds: 600 };
    expect(budgetView(log, lowered, now)).toMatchObject({
      used: 2,
      remaining: 0,
      reset_at: rfc3339(T0 + 120_000 + W),
    });
    expect(canRestart(log, lowered, T0 + 120_000 + W - 1)).toBe(false);
    expect(canRestart(log, lowered, T0 + 120_000 + W)).toBe(true);
    // max raised to 6: two slots left, next slot (oldest) frees first.
    expect(budgetView(log, { max_restarts: 6, window_seconds: 600 }, now)).toMatchObject({
      used: 4,
      remaining: 2,
      reset_at: rfc3339(T0 + W),
    });
    // window shrunk to 100 s: only the attempts of the last 100 s count.
    expect(budgetView(log, { max_restarts: 3, window_seconds: 100 }, now)).toMatchObject({
      used: 2,
      remaining: 1,
      reset_at: rfc3339(T0 + 120_000 + 100_000),
    });
  });

  it("treats max_restarts 0 as restarts disabled: never allowed, never 'exhausted'", () => {
    const limits = { max_restarts: 0, window_seconds: 600 };
    const log = logOf(T0);
    expect(canRestart(emptyBudgetLog(), limits, T0)).toBe(false);
    const view = budgetView(log, limits, T0);
    expect(view).toEqual({ max_restarts: 0, window_seconds: 600, used: 0, remaining: 0 });
    expect(budgetExhausted(view)).toBe(false);
    expect(budgetLow(view)).toBe(false);
  });

  it("classifies exhausted and low budgets", () => {
    expect(budgetExhausted(budget(3, 3, T0))).toBe(true);
    expect(budgetExhausted(budget(3, 2, T0))).toBe(false);
    expect(budgetLow(budget(3, 2, T0))).toBe(true);
    expect(budgetLow(budget(3, 1, T0))).toBe(false);
    expect(budgetLow(budget(1, 0))).toBe(false);
    expect(budgetLow(budget(2, 1, T0))).toBe(true);
  });

  it("formats the budget line", () => {
    const resetAt = Date.UTC(2025, 8, 29, 12, 9, 41);
    expect(budgetLine(budget(3, 1, resetAt), hhmmss)).toBe(
      "2 of 3 restarts left, window 600s, resets 12:09:41",
    );
    expect(budgetLine(budget(3, 0), hhmmss)).toBe("3 of 3 restarts left, window 600s");
    expect(budgetLine(budget(3, 3, resetAt), hhmmss)).toBe(
      "0 of 3 restarts left, window 600s, resets 12:09:41",
    );
    expect(budgetLine(budget(1, 0, undefined, 30), hhmmss)).toBe("1 of 1 restart left, window 30s");
  });

  it("parses persisted logs and rejects malformed ones", () => {
    const log = { attempts: [T0, T0 + 1], resets: [T0 - 5] };
    expect(parseBudgetLog(JSON.parse(JSON.stringify(log)))).toEqual(log);
    expect(parseBudgetLog({ attempts: [T0] })).toEqual({ attempts: [T0], resets: [] });
    expect(parseBudgetLog({ attempts: [], resets: [] })).toEqual(emptyBudgetLog());
    const bad: unknown[] = [
      undefined,
      null,
      42,
      "x",
      [],
      {},
      { attempts: "1,2" },
      { attempts: [T0 + 1, T0] },
      { attempts: [Number.NaN] },
      { attempts: [Number.POSITIVE_INFINITY] },
      { attempts: [-1] },
      { attempts: ["1700000000000"] },
      { attempts: [T0], resets: [T0, T0 - 1] },
      { attempts: [T0], resets: null },
    ];
    for (const value of bad) expect(parseBudgetLog(value), JSON.stringify(value)).toBeUndefined();
  });
});

// ─── Properties ────────────────────────────────────────────────────────────────────────────────

const limitsArb = fc.record({
  max_restarts: fc.integer({ min: 0, max: 6 }),
  window_seconds: fc.integer({ min: 1, max: 900 }),
});

/** Any sorted log of attempts around T0 (not necessarily one the supervisor would write). */
const logArb = fc
  .record({
    attempts: fc.array(fc.integer({ min: T0 - 2_000_000, max: T0 + 2_000_000 }), { maxLength: 12 }),
    resets: fc.array(fc.integer({ min: T0 - 2_000_000, max: T0 + 2_000_000 }), { maxLength: 25 }),
  })
  .map((log) => ({
    attempts: [...log.attempts].sort((a, b) => a - b),
    resets: [...log.resets].sort((a, b) => a - b),
  }));

const nowArb = fc.integer({ min: T0 - 1_000_000, max: T0 + 3_000_000 });

function checkView(log: BudgetLog, limits: BudgetLimits, now: number): void {
  const view = budgetView(log, limits, now);
  expect(view.used).toBeGreaterThanOrEqual(0);
  expect(view.used).toBeLessThanOrEqual(limits.max_restarts);
  expect(view.remaining).toBe(limits.max_restarts - view.used);
  expect(canRestart(log, limits, now)).toBe(view.remaining > 0);
  if (view.used > 0) {
    expect(view.reset_at).toBeDefined();
    const resetAt = Date.parse(view.reset_at as string);
    expect(resetAt).toBeGreaterThan(now);
    // At the horizon a slot has freed.
    expect(canRestart(log, limits, resetAt)).toBe(true);
    expect(budgetView(log, limits, resetAt).remaining).toBeGreaterThan(0);
  } else {
    expect(view.reset_at).toBeUndefined();
  }
}

describe("restart budget properties", () => {
  it("used ≤ max, remaining = max − used, reset_at > now when used, a slot frees at reset_at", () => {
    fc.assert(
      fc.property(logArb, limitsArb, nowArb, (log, limits, now) => {
        checkView(deepFreeze(log), limits, now);
      }),
    );
  });

  it("is monotone in time: used never grows and canRestart never turns false as time passes", () => {
    fc.assert(
      fc.property(
        logArb,
        limitsArb,
        nowArb,
        fc.integer({ min: 0, max: 2_000_000 }),
        (log, limits, now, dt) => {
          const before = budgetView(log, limits, now);
          const after = budgetView(log, limits, now + dt);
          expect(after.used).toBeLessThanOrEqual(before.used);
          if (canRestart(log, limits, now)) expect(canRestart(log, limits, now + dt)).toBe(true);
        },
      ),
    );
  });

  it("a simulated supervisor never exceeds the budget, stays exhausted when forced, and never mutates", () => {
    const step = fc.record({
      dt: fc.integer({ min: 0, max: 400_000 }),
      op: fc.constantFrom("attempt", "attempt", "attempt", "force", "reset", "tick"),
    });
    fc.assert(
      fc.property(limitsArb, fc.array(step, { maxLength: 40 }), (limits, steps) => {
        let log = deepFreeze(emptyBudgetLog());
        let now = T0;
        const windowMs = limits.window_seconds * 1000;
        const granted: number[] = [];
        for (const { dt, op } of steps) {
          now += dt;
          if (op === "attempt" && canRestart(log, limits, now)) {
            log = deepFreeze(recordAttempt(log, limits, now));
            granted.push(now);
          } else if (op === "force") {
            const exhausted = !canRestart(log, limits, now);
            log = deepFreeze(recordAttempt(log, limits, now));
            granted.push(now);
            if (exhausted) expect(canRestart(log, limits, now)).toBe(false);
          } else if (op === "reset") {
            log = deepFreeze(resetBudget(log, now));
            granted.length = 0;
          }
          checkView(log, limits, now);
          expect(parseBudgetLog(JSON.parse(JSON.stringify(log)))).toEqual(log);
          // Independent count: the view agrees with a brute-force count of the attempts in the window.
          const live = granted.filter((at) => at > now - windowMs).length;
          expect(budgetView(log, limits, now).used).toBe(Math.min(live, limits.max_restarts));
        }
      }),
    );
  });

  it("a config reload reinterprets any log sensibly: more max or a shorter window never means fewer left", () => {
    fc.assert(
      fc.property(logArb, limitsArb, nowArb, fc.integer({ min: 0, max: 4 }), (log, limits, now, extra) => {
        const raised = { ...limits, max_restarts: limits.max_restarts + extra };
        checkView(log, raised, now);
        expect(budgetView(log, raised, now).remaining).toBeGreaterThanOrEqual(
          budgetView(log, limits, now).remaining,
        );
        const shorter = { ...limits, window_seconds: Math.max(1, Math.floor(limits.window_seconds / 2)) };
        checkView(log, shorter, now);
        expect(budgetView(log, shorter, now).used).toBeLessThanOrEqual(budgetView(log, limits, now).used);
      }),
    );
  });
});

describe("sanitizeBudgetLog: a persisted log is trusted entry by entry", () => {
  it("drops attempts beyond now + skew and malformed entries, each with a reason, and keeps the rest", () => {
    const yearAhead = T0 + 365 * 24 * 3600_000;
    const { log, dropped } = sanitizeBudgetLog(
      {
        attempts: [T0 - 2000, "x", yearAhead, T0 - 5000, -1, T0 + BUDGET_CLOCK_SKEW_MS],
        resets: [T0 - 1],
        exhausted_at: yearAhead,
      },
      T0,
    );
    expect(log).toEqual({ attempts: [T0 - 5000, T0 - 2000, T0 + BUDGET_CLOCK_SKEW_MS], resets: [T0 - 1] });
    expect(dropped, dropped.join("; ")).toHaveLength(4);
    expect(dropped.join("; ")).toContain(`${rfc3339(yearAhead)} is in the future`);
    expect(dropped.join("; ")).toContain('"x" is not an epoch-ms time');
  });

  it("a year-ahead stamp no longer keeps the runtime exhausted", () => {
    const limits = { max_restarts: 1, window_seconds: 60 };
    const { log } = sanitizeBudgetLog({ attempts: [T0 + 365 * 24 * 3600_000], resets: [] }, T0);
    expect(canRestart(log, limits, T0)).toBe(true);
  });

  it("anything not a log starts empty, with a warning; a valid log passes unchanged", () => {
    expect(sanitizeBudgetLog("junk", T0)).toMatchObject({
      log: emptyBudgetLog(),
      dropped: [expect.any(String)],
    });
    expect(sanitizeBudgetLog(undefined, T0)).toEqual({ log: emptyBudgetLog(), dropped: [] });
    const valid = { attempts: [T0 - 3, T0 - 1], resets: [T0 - 9], exhausted_at: T0 - 1 };
    expect(sanitizeBudgetLog(valid, T0)).toEqual({ log: valid, dropped: [] });
  });

  it("fast-check: whatever is stored, the result parses and holds no time beyond now + skew", () => {
    fc.assert(
      fc.property(
        fc.anything(),
        fc.array(fc.oneof(fc.double(), fc.integer(), fc.string())),
        (junk, times) => {
          for (const value of [junk, { attempts: times, resets: times }]) {
            const { log } = sanitizeBudgetLog(value, T0);
            expect(parseBudgetLog(log)).toEqual(log);
            expect(log.attempts.every((a) => a <= T0 + BUDGET_CLOCK_SKEW_MS)).toBe(true);
          }
        },
      ),
    );
  });
});
