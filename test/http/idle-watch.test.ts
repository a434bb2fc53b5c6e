/**
 * The shared idle watch of request bodies (one timer for all): driven by a ManualClock, every body is told
 * it stalled once its idle time has passed since it last moved, never earlier, and once only; a body that
 * is done is never told; the watch keeps one timer armed at most, none when nothing is watched.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { IdleWatch, Watched } from "../../daemon/http/idle-watch.js";
import { FakeTimers } from "../policy/fixtures.js";

type Step =
  | { kind: "add" }
  | { kind: "data"; which: number }
  | { kind: "done"; which: number }
  | { kind: "wait"; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ kind: "add" as const }),
  fc.record({ kind: fc.constant("data" as const), which: fc.nat(20) }),
  fc.record({ kind: fc.constant("done" as const), which: fc.nat(20) }),
  fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 400 }) }),
);

describe("IdleWatch", () => {
  it("tells each stalled body once, no earlier than its idle time after it last moved, and never a done one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(step, { maxLength: 60 }), (idleMs, steps) => {
        const clock = new ManualClock();
        const timers = new FakeTimers(clock);
        const watch = new IdleWatch(idleMs, { now: () => clock.now(), timers });
        const bodies: { w: Watched; told: number; done: boolean; toldAt?: number }[] = [];
        const live = () => bodies.filter((b) => !b.done && b.told === 0);
        for (const s of steps) {
          if (s.kind === "add") {
            const b: (typeof bodies)[number] = {
              told: 0,
              done: false,
              w: new Watched(clock.now(), () => {
                b.told++;
                b.toldAt = clock.now();
              }),
            };
            bodies.push(b);
            watch.add(b.w);
          } else if (s.kind === "data" || s.kind === "done") {
            const b = live()[s.which];
            if (b === undefined) continue;
            if (s.kind === "data") b.w.lastData = clock.now();
            else {
              b.done = true;
              watch.delete(b.w);
            }
          } else timers.advance(s.ms);
          expect(timers.size).toBeLessThanOrEqual(1);
          for (const b of bodies) {
            expect(b.told).toBeLessThanOrEqual(1);
            if (b.done) expect(b.told).toBe(0);
            if (b.told === 1) expect(b.toldAt as number).toBeGreaterThanOrEqual(b.w.lastData + idleMs);
          }
        }
        // Waiting out the idle time tells every body still watched, and leaves no timer behind.
        const open = live();
        timers.advance(idleMs + 1);
        for (const b of open) expect(b.told).toBe(1);
        expect(watch.size).toBe(0);
        timers.advance(idleMs + 1);
        expect(timers.size).toBe(0);
      }),
    );
  });
});
