import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { FallbackTracker } from "../../daemon/policy/fallback.js";
import type { Candidate, PolicySwitches } from "../../daemon/policy/resolve.js";
import { resolveCell } from "../../daemon/policy/resolve.js";
import type { FallbackPayload, PinRecord, RestoredPayload } from "../../ipc/protocol/policy.js";
import { makeCandidate, makeCell } from "./fixtures.js";

const A = makeCandidate(makeCell("llama-8b", "gpu:0", "none"));
const B = makeCandidate(makeCell("qwen-1b", "cpu", "none"));
const C = makeCandidate(makeCell("gpt-4o", "remote", "none"), { remote: true });
const pins: PinRecord = {
  scope: "agent:coder",
  agent: "coder",
  patterns: ["llama-8b@gpu:0/none", "qwen-1b@cpu/none", "remote:*"],
  set_at: "2026-01-01T00:00:00.000Z",
};
const policy: PolicySwitches = { allow_fallback: true, allow_remote: true, allow_cpu: true };
const RESTORE = 30_000;

function setup() {
  const clock = new ManualClock();
  const events: { topic: string; payload: FallbackPayload | RestoredPayload; at: number }[] = [];
  const tracker = new FallbackTracker({
    clock,
    restoreAfterMs: RESTORE,
    emit: (topic, payload) => events.push({ topic, payload: payload as FallbackPayload, at: clock.now() }),
  });
  const observe = (health: { a: boolean; b?: boolean; c?: boolean }) => {
    const cands: Candidate[] = [
      { ...A, healthy: health.a },
      { ...B, healthy: health.b ?? true },
      { ...C, healthy: health.c ?? true },
    ];
    const r = resolveCell({}, cands, pins, policy);
    expect(r.preferred?.cell).toBe(A.cell.key);
    return tracker.observe("agent:coder", A.cell.key, health.a, r).cell;
  };
  return { clock, events, tracker, observe };
}

describe("FallbackTracker", () => {
  it("falls back once, ignores a flap, and restores only after continuous health", () => {
    const { clock, events, observe, tracker } = setup();
    expect(observe({ a: true })).toBe(A.cell.key);
    expect(events).toEqual([]);

    clock.advance(1000);
    expect(observe({ a: false })).toBe(B.cell.key);
    clock.advance(1000);
    expect(observe({ a: false })).toBe(B.cell.key);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      topic: "policy.fallback",
      payload: { scope: "agent:coder", from: A.cell.key, to: B.cell.key },
    });
    expect((events[0]!.payload as FallbackPayload).reason).toMatch(/^unhealthy: runtime rt-llama-8b/);

    // Healthy for 20 s, then a flap: the count starts again.
    clock.advance(1000);
    expect(observe({ a: true })).toBe(B.cell.key);
    clock.advance(20_000);
    expect(observe({ a: true })).toBe(B.cell.key);
    clock.advance(1000);
    expect(observe({ a: false })).toBe(B.cell.key);
    clock.advance(1000);
    const healthyFrom = clock.now();
    expect(observe({ a: true })).toBe(B.cell.key);
    clock.advance(RESTORE - 1);
    expect(observe({ a: true })).toBe(B.cell.key);
    expect(events).toHaveLength(1);
    expect(tracker.list()[0]).toMatchObject({ on_fallback: true, serving: B.cell.key });

    clock.advance(1);
    expect(observe({ a: true })).toBe(A.cell.key);
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({
      topic: "policy.restored",
      payload: { scope: "agent:coder", from: B.cell.key, to: A.cell.key, healthy_for_ms: RESTORE },
    });
    expect(clock.now() - healthyFrom).toBe(RESTORE);
    expect(observe({ a: true })).toBe(A.cell.key);
    expect(events).toHaveLength(2);
  });

  it("moves on (one event) when the fallback cell drops out, and reports no eligible cell", () => {
    const { clock, events, observe } = setup();
    observe({ a: true });
    expect(observe({ a: false })).toBe(B.cell.key);
    clock.advance(500);
    expect(observe({ a: false, b: false })).toBe(C.cell.key);
    expect(observe({ a: false, b: false })).toBe(C.cell.key);
    // B is back, but users stay on C: moving between fallbacks would flap too.
    expect(observe({ a: false, b: true })).toBe(C.cell.key);
    expect(observe({ a: false, b: false, c: false })).toBeUndefined();
    expect(events.map((e) => [e.payload.from, e.payload.to])).toEqual([
      [A.cell.key, B.cell.key],
      [B.cell.key, C.cell.key],
      [C.cell.key, null],
    ]);
    expect((events[2]!.payload as FallbackPayload).reason).toMatch(/^unhealthy/);
  });

  it("serves an unproven preferred cell when nothing else is left, without announcing a restore early", () => {
    const { clock, events, observe } = setup();
    observe({ a: false });
    expect(events).toHaveLength(1);
    clock.advance(1000);
    expect(observe({ a: true, b: false, c: false })).toBe(A.cell.key);
    expect(events).toHaveLength(1);
    clock.advance(RESTORE);
    expect(observe({ a: true, b: false, c: false })).toBe(A.cell.key);
    expect(events.map((e) => e.topic)).toEqual(["policy.fallback", "policy.restored"]);
  });

  it("starts afresh when the scope's preferred cell changes, and forgets scopes", () => {
    const { events, tracker } = setup();
    const r = resolveCell({}, [{ ...A, healthy: false }, B], pins, policy);
    tracker.observe("s", A.cell.key, false, r);
    tracker.observe("s", B.cell.key, true, resolveCell({}, [B], undefined, policy));
    expect(tracker.list()[0]).toMatchObject({ preferred: B.cell.key, on_fallback: false });
    expect(tracker.forget("s")).toBe(true);
    expect(tracker.list()).toEqual([]);
    expect(events).toHaveLength(1);
  });

  const stepsArb = fc.array(
    fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), a: fc.boolean(), b: fc.boolean() }),
    { minLength: 1, maxLength: 60 },
  );

  it("property: one event per transition, never restored before restoreAfterMs of continuous health", () => {
    fc.assert(
      fc.property(stepsArb, fc.boolean(), (steps, bFlaps) => {
        const { clock, events, observe } = setup();
        const history: { at: number; a: boolean }[] = [];
        let lastCell: string | undefined = A.cell.key;
        for (const step of steps) {
          clock.advance(step.dt);
          const before = events.length;
          const b = bFlaps ? step.b : true;
          const cell = observe({ a: step.a, b, c: false });
          history.push({ at: clock.now(), a: step.a });
          const fresh = events.slice(before);
          expect(fresh.length).toBeLessThanOrEqual(1);
          if (!step.a) expect(cell).not.toBe(A.cell.key);
          if (!bFlaps && !step.a) expect(cell).toBe(B.cell.key);
          for (const e of fresh) {
            if (e.topic === "policy.restored") {
              // The first healthy observation of the current streak is at least restoreAfterMs ago.
              let i = history.length - 1;
              while (i > 0 && history[i - 1]!.a) i -= 1;
              expect(clock.now() - history[i]!.at).toBeGreaterThanOrEqual(RESTORE);
              expect(cell).toBe(A.cell.key);
            } else {
              // A fallback event names a real move, to the cell now served.
              expect(e.payload.to).toBe(cell ?? null);
              expect(e.payload.from).not.toBe(e.payload.to);
              expect(e.payload.from).toBe(lastCell ?? null);
            }
          }
          if (fresh.length === 0 && cell !== lastCell) {
            // Silent moves happen only back onto the preferred cell (restore or interim), never elsewhere.
            expect(cell).toBe(A.cell.key);
          }
          lastCell = cell;
        }
        if (!bFlaps) {
          // With one fallback cell, events strictly alternate: fallback, restored, fallback, …
          expect(events.map((e) => e.topic)).toEqual(
            events.map((_, i) => (i % 2 === 0 ? "policy.fallback" : "policy.restored")),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
