/**
 * Router.route keeps the decisions of requests the fallback tracker does not follow, per build of the
 * candidates and the switches: a request routed again gets what resolving it afresh gives (fast-check over
 * requests, pins, switches and candidate rebuilds), the same object while nothing changed, and a new
 * decision after a pin, the switches or the candidates changed. Default routing is never kept.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import type { PolicySpec } from "../../base/spec.js";
import { EventBus } from "../../daemon/events.js";
import type { PinStore } from "../../daemon/policy/pins.js";
import { type ResolveRequest, resolveCell } from "../../daemon/policy/resolve.js";
import { Router } from "../../daemon/policy/routing.js";
import type { PinRecord } from "../../ipc/protocol/policy.js";

const BASE: PolicySpec = {
  allow_fallback: true,
  allow_remote: false,
  allow_cpu: true,
  restore_after_ms: 30_000,
};

function runtime(id: string, model: string, hardware: string) {
  const spec = { id, adapter: "llama-stub", model, hardware, sandbox: { kind: "none" }, slots: 2 };
  return {
    id,
    spec,
    state: "ready",
    view: () => ({ status: { code: "ready" }, health: {} }),
  };
}

function setup() {
  const clock = new ManualClock();
  const bus = new EventBus(clock);
  let policy: PolicySpec = BASE;
  let pin: PinRecord | undefined;
  const runtimes = [runtime("a", "m1", "gpu:0"), runtime("b", "m1", "cpu"), runtime("c", "m2", "gpu:1")];
  const router = new Router({
    clock,
    bus,
    runtimes: () => runtimes as never,
    lookupModel: () => undefined,
    sandboxes: () => [],
    matrixCells: () => [],
    leasesHeld: () => 0,
    routedP95: () => undefined,
    parameterCount: () => undefined,
    pins: { lookup: () => pin } as unknown as PinStore,
    policy: () => policy,
  });
  return {
    router,
    clock,
    bus,
    setPolicy: (p: PolicySpec) => {
      policy = p;
    },
    setPin: (p: PinRecord | undefined) => {
      pin = p;
    },
    fresh: (req: ResolveRequest) => resolveCell(req, router.candidates(), pin, policy),
  };
}

type Step =
  | { kind: "route"; req: ResolveRequest }
  | { kind: "policy"; allow_cpu: boolean }
  | { kind: "pin"; patterns: readonly string[] | undefined }
  | { kind: "event" }
  | { kind: "wait"; ms: number };

const request: fc.Arbitrary<ResolveRequest> = fc.record(
  {
    // "m1\u0000quick" without a mode has the key of "m1" in quick mode: told apart on a hit.
    model: fc.constantFrom("m1", "m2", "m3", "m1\u0000quick"),
    mode: fc.constantFrom("balanced" as const, "quick" as const, "verified" as const),
    needs: fc.constantFrom(["chat"], ["embeddings"], ["slot"]),
    agent: fc.constantFrom("x", "y"),
  },
  { requiredKeys: ["needs"] },
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("route" as const), req: request }), weight: 4 },
  fc.record({ kind: fc.constant("policy" as const), allow_cpu: fc.boolean() }),
  fc.record({
    kind: fc.constant("pin" as const),
    patterns: fc.option(fc.constantFrom(["m2@*"], ["m1@cpu"], ["*@gpu:*"]), { nil: undefined }),
  }),
  fc.constant({ kind: "event" as const }),
  fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 2500 }) }),
);

describe("Router decision memo", () => {
  it("answers every request as resolving it afresh would", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const t = setup();
        for (const s of steps) {
          if (s.kind === "route") {
            const routed = t.router.route(s.req);
            expect(routed.resolution).toEqual(t.fresh(s.req));
            expect(routed.serve).toEqual(routed.resolution.chosen);
          } else if (s.kind === "policy") t.setPolicy({ ...BASE, allow_cpu: s.allow_cpu });
          else if (s.kind === "pin")
            t.setPin(
              s.patterns === undefined
                ? undefined
                : { scope: "agent:x", agent: "x", patterns: [...s.patterns], set_at: "2026-01-01T00:00:00Z" },
            );
          else if (s.kind === "event") t.bus.publish("runtime.state.changed", { id: "a" } as never);
          else t.clock.advance(s.ms);
        }
        t.router.stop();
      }),
      { numRuns: 300 },
    );
  });

  it("shares a decision while nothing changed and makes a new one when something did", () => {
    const t = setup();
    const req: ResolveRequest = { model: "m1", needs: ["chat"] };
    const first = t.router.route(req);
    expect(t.router.route({ ...req })).toBe(first);
    t.setPolicy({ ...BASE, allow_cpu: false });
    const second = t.router.route(req);
    expect(second).not.toBe(first);
    expect(t.router.route(req)).toBe(second);
    t.setPin({ scope: "*", patterns: ["m1@cpu"], set_at: "2026-01-01T00:00:00Z" });
    const third = t.router.route(req);
    expect(third).not.toBe(second);
    t.bus.publish("runtime.exited", { id: "a" } as never);
    expect(t.router.route(req)).not.toBe(third);
    t.router.stop();
  });

  it("never keeps default routing, which the fallback tracker follows", () => {
    const t = setup();
    expect(t.router.route({})).not.toBe(t.router.route({}));
    t.router.stop();
  });
});
