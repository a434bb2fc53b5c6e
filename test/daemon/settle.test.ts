/** awaitSettled: the one wait for a runtime to reach a state, over the real event bus. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../base/clock.js";
import { EventBus } from "../../daemon/events.js";
import { awaitSettled, SETTLED_STATES } from "../../daemon/supervise/settle.js";
import type { RuntimeState } from "../../ipc/protocol/runtime.js";

/** A runtime whose transitions are published the way the supervisor publishes them. */
function runtime(bus: EventBus, id: string, state: RuntimeState) {
  const rt = {
    id,
    state,
    to(next: RuntimeState) {
      const from = rt.state;
      rt.state = next;
      bus.publish("runtime.state.changed", { id, from, to: next } as never);
    },
  };
  return rt;
}

const STATES: RuntimeState[] = [
  "stopped",
  "starting",
  "ready",
  "degraded",
  "stopping",
  "failed",
  "exhausted",
  "idle",
];

describe("awaitSettled", () => {
  it("resolves at once when the runtime is already in one of the states", async () => {
    const bus = new EventBus(systemClock);
    const rt = runtime(bus, "a", "ready");
    await expect(awaitSettled(rt, bus, { states: SETTLED_STATES, timeoutMs: 60_000 })).resolves.toEqual({
      timedOut: false,
      state: "ready",
    });
    expect(bus.subscriberCount).toBe(0);
  });

  it("with `next`, waits for the next change into the states even when in one now", async () => {
    const bus = new EventBus(systemClock);
    const rt = runtime(bus, "a", "ready");
    const settled = awaitSettled(rt, bus, { states: SETTLED_STATES, timeoutMs: 60_000, next: true });
    rt.to("stopping");
    runtime(bus, "other", "starting").to("failed");
    rt.to("starting");
    rt.to("failed");
    await expect(settled).resolves.toEqual({ timedOut: false, state: "failed" });
    expect(bus.subscriberCount).toBe(0);
  });

  it("reports a timeout with the state the runtime was in then, and unsubscribes", async () => {
    const bus = new EventBus(systemClock);
    const rt = runtime(bus, "a", "stopping");
    const settled = awaitSettled(rt, bus, { states: ["stopped"], timeoutMs: 20 });
    rt.to("starting");
    await expect(settled).resolves.toEqual({ timedOut: true, state: "starting" });
    expect(bus.subscriberCount).toBe(0);
  });

  it("property: ends in the first state of the wanted set the runtime passes through", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...STATES),
        fc.subarray(STATES, { minLength: 1 }),
        fc.array(fc.constantFrom(...STATES), { maxLength: 12 }),
        fc.boolean(),
        async (start, wanted, path, next) => {
          const bus = new EventBus(systemClock);
          const rt = runtime(bus, "a", start);
          const settled = awaitSettled(rt, bus, { states: wanted, timeoutMs: 60_000, next });
          const expected = !next && wanted.includes(start) ? start : path.find((s) => wanted.includes(s));
          for (const s of path) rt.to(s);
          if (expected === undefined) {
            // Never reached: the wait is still armed; end it by reaching a wanted state.
            rt.to(wanted[0] as RuntimeState);
            await expect(settled).resolves.toEqual({ timedOut: false, state: wanted[0] });
          } else {
            await expect(settled).resolves.toEqual({ timedOut: false, state: expected });
          }
          expect(bus.subscriberCount).toBe(0);
        },
      ),
    );
  });
});
