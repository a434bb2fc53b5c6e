/**
 * An event's time says when what it reports happened: a supervisor's step publishes after its fork, with
 * the step's instant (`at`), and the time never runs back behind an earlier event's (times rise with seq).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventBus } from "../../daemon/events.js";

describe("event times", () => {
  it("are `at` when given, else the clock's now, and never before the last event's", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.option(fc.integer({ min: 0, max: 60 }))), {
          maxLength: 40,
        }),
        (steps) => {
          let now = Date.UTC(2026, 0, 1);
          const bus = new EventBus({ now: () => now });
          let last = Number.NEGATIVE_INFINITY;
          for (const [advance, back] of steps) {
            now += advance;
            const at = back === null ? undefined : now - back;
            const event = bus.publish("daemon.stopping", { reason: "test" }, at);
            const time = Date.parse(event.time);
            expect(time).toBe(at === undefined ? now : Math.max(at, last));
            expect(time).toBeGreaterThanOrEqual(last);
            last = time;
          }
        },
      ),
    );
  });
});
