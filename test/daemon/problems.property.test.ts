/**
 * ProblemBoard against a simple model, for any sequence of write outcomes on a few keys: a problem appears
 * on the first failed write, keeps its `since` while failures continue (even with new messages), and
 * clears on the first success; `onChange` fires exactly when the visible list changes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock, rfc3339 } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import { ProblemBoard } from "../../daemon/problems.js";
import type { DaemonProblem } from "../../ipc/protocol/runtime.js";

type Outcome =
  | { key: string; ok: true; advance: number }
  | { key: string; ok: false; code: "STATE_WRITE_FAILED" | "LOG_WRITE_FAILED"; why: string; advance: number };

const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.record({
    key: fc.constantFrom("state", "log:a", "log:b"),
    ok: fc.constant(true as const),
    advance: fc.integer({ min: 0, max: 5000 }),
  }),
  fc.record({
    key: fc.constantFrom("state", "log:a", "log:b"),
    ok: fc.constant(false as const),
    code: fc.constantFrom("STATE_WRITE_FAILED" as const, "LOG_WRITE_FAILED" as const),
    why: fc.constantFrom("ENOSPC", "EROFS", "EACCES"),
    advance: fc.integer({ min: 0, max: 5000 }),
  }),
);

const byKey = (list: DaemonProblem[]) =>
  [...list].sort((a, b) => a.since.localeCompare(b.since) || (a.path ?? "").localeCompare(b.path ?? ""));

describe("ProblemBoard (property)", () => {
  it("equals the model after every outcome of any sequence", () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 60 }), (outcomes) => {
        const clock = new ManualClock(Date.parse("2026-05-01T12:00:00.000Z"));
        const board = new ProblemBoard(clock);
        // The model: per key, the current problem (since = time of the first failure of the current run).
        const model = new Map<string, DaemonProblem>();
        for (const o of outcomes) {
          clock.advance(o.advance);
          const path = `/state/${o.key}`;
          const before = model.get(o.key);
          if (o.ok) {
            board.report(o.key, undefined);
            model.delete(o.key);
          } else {
            const message = `cannot write ${path}: ${o.why}`;
            board.report(o.key, new RmxError(o.code, message, { path }));
            model.set(o.key, { code: o.code, message, path, since: before?.since ?? rfc3339(clock.now()) });
          }
          expect(byKey(board.list())).toEqual(byKey([...model.values()]));
          // list() is oldest first.
          const sinces = board.list().map((p) => p.since);
          expect(sinces).toEqual([...sinces].sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  it("fires onChange exactly when the visible list changes", () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 60 }), (outcomes) => {
        const clock = new ManualClock(0);
        let changes = 0;
        const board = new ProblemBoard(clock, () => {
          changes += 1;
        });
        for (const o of outcomes) {
          clock.advance(o.advance);
          const before = JSON.stringify(board.list());
          const counted = changes;
          if (o.ok) board.report(o.key, undefined);
          else board.report(o.key, new RmxError(o.code, `cannot write: ${o.why}`, { path: `/s/${o.key}` }));
          const after = JSON.stringify(board.list());
          expect(changes - counted).toBe(before === after ? 0 : 1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
