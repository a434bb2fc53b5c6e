/**
 * idle_ttl through RuntimeActivity (the path requests take): the TTL counts from the last request's begin or
 * end, and a runtime with a request in flight is never idled, however long the request runs. Properties over
 * random sequences of requests and clock steps, on a ManualClock with fake timers.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { RuntimeActivity } from "../../daemon/policy/idle.js";
import type { RuntimeSupervisor } from "../../daemon/supervise/runtime.js";
import { FakeTimers } from "./fixtures.js";

type Step = { kind: "begin" } | { kind: "end"; pick: number } | { kind: "advance"; ms: number };

const step = (ttl: number): fc.Arbitrary<Step> =>
  fc.oneof(
    fc.constant<Step>({ kind: "begin" }),
    fc.nat(8).map<Step>((pick) => ({ kind: "end", pick })),
    fc.integer({ min: 1, max: 3 * ttl }).map<Step>((ms) => ({ kind: "advance", ms })),
  );

function world(ttl: number) {
  const clock = new ManualClock();
  const timers = new FakeTimers(clock);
  const idledAt: number[] = [];
  const rt = {
    id: "rt",
    state: "ready",
    spec: { idle_ttl_ms: ttl },
    idle() {
      this.state = "idle";
      idledAt.push(clock.now());
    },
  };
  const activity = new RuntimeActivity({
    clock,
    timers,
    bus: { waitFor: () => new Promise(() => {}) },
    logger: { info: () => {} },
    runtimes: new Map([["rt", rt as unknown as RuntimeSupervisor]]),
    busyLeases: () => 0,
  });
  activity.configureAll();
  return { clock, timers, idledAt, rt, activity };
}

describe("RuntimeActivity and idle_ttl", () => {
  it("idles exactly ttl after the last request, and never with a request in flight", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 100, max: 10_000 })
          .chain((ttl) => fc.tuple(fc.constant(ttl), fc.array(step(ttl), { maxLength: 40 }))),
        ([ttl, steps]) => {
          const { clock, timers, idledAt, rt, activity } = world(ttl);
          const open: (() => void)[] = [];
          let lastActivity = clock.now();
          for (const s of steps) {
            if (s.kind === "begin") {
              // A request to an idled runtime starts it again (ensureReady); here it is simply ready.
              rt.state = "ready";
              open.push(activity.begin("rt"));
              lastActivity = clock.now();
            } else if (s.kind === "end") {
              if (open.length === 0) continue;
              const [end] = open.splice(s.pick % open.length, 1);
              end?.();
              lastActivity = clock.now();
            } else {
              const before = idledAt.length;
              // Step through each due timer, so an idle is seen at the time it fires.
              timers.advance(s.ms);
              for (const at of idledAt.slice(before)) {
                expect(open.length).toBe(0);
                expect(at - lastActivity).toBe(ttl);
              }
            }
            if (rt.state === "ready" && open.length === 0 && clock.now() - lastActivity >= ttl)
              expect(idledAt.at(-1)).toBe(lastActivity + ttl);
            if (open.length > 0) expect(rt.state).toBe("ready");
          }
        },
      ),
    );
  });

  it("a request running for ten TTLs keeps the runtime; its end starts the idle period", () => {
    const { clock, timers, idledAt, rt, activity } = world(1_000);
    const end = activity.begin("rt");
    timers.advance(10_000);
    expect(rt.state).toBe("ready");
    end();
    const ended = clock.now();
    timers.advance(999);
    expect(idledAt).toEqual([]);
    timers.advance(1);
    expect(idledAt).toEqual([ended + 1_000]);
  });
});
