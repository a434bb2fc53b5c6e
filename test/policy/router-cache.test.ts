/**
 * The router's candidate cache: a full build (matrix cells, leases, sandboxes) on the events that change
 * candidates and at the latest every 2 s; runtime.health, which comes every health interval, is not one.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import type { PolicySpec } from "../../base/spec.js";
import { EventBus } from "../../daemon/events.js";
import type { PinStore } from "../../daemon/policy/pins.js";
import { Router } from "../../daemon/policy/routing.js";

const POLICY: PolicySpec = {
  allow_fallback: true,
  allow_remote: false,
  allow_cpu: true,
  restore_after_ms: 30_000,
};

function router() {
  const clock = new ManualClock();
  const bus = new EventBus(clock);
  let builds = 0;
  const r = new Router({
    clock,
    bus,
    runtimes: () => [],
    lookupModel: () => undefined,
    sandboxes: () => [],
    matrixCells: () => {
      builds++;
      return [];
    },
    leasesHeld: () => 0,
    routedP95: () => undefined,
    parameterCount: () => undefined,
    pins: {} as PinStore,
    policy: () => POLICY,
  });
  return { r, clock, bus, builds: () => builds };
}

describe("Router candidate cache", () => {
  it("builds once, refreshes latencies only between events, and rebuilds on a state change or after 2 s", () => {
    const { r, clock, bus, builds } = router();
    r.candidates();
    r.candidates();
    expect(builds()).toBe(1);
    clock.advance(150);
    r.candidates();
    expect(builds()).toBe(1);
    bus.publish("runtime.health", { scope: "node" } as never);
    r.candidates();
    expect(builds()).toBe(1);
    bus.publish("runtime.state.changed", { id: "a" } as never);
    r.candidates();
    expect(builds()).toBe(2);
    bus.publish("lease.acquired", {} as never);
    r.candidates();
    expect(builds()).toBe(3);
    clock.advance(2000);
    r.candidates();
    expect(builds()).toBe(4);
    r.stop();
  });

  it("keeps the lease book's places until an event changes them (its counts stay live)", () => {
    const { r, clock, bus } = router();
    const book = r.leaseBook();
    clock.advance(500);
    expect(r.leaseBook()).toBe(book);
    bus.publish("config.reloaded", {} as never);
    const next = r.leaseBook();
    expect(next).not.toBe(book);
    clock.advance(2000);
    expect(r.leaseBook()).not.toBe(next);
    r.stop();
  });

  it("follows neither runtime.health nor matrix.changed: with no other follower the matrix composes on read", () => {
    const { r, bus } = router();
    expect(bus.hasSubscribers("runtime.health")).toBe(false);
    expect(bus.hasSubscribers("matrix.changed")).toBe(false);
    expect(bus.hasSubscribers("runtime.state.changed")).toBe(true);
    r.stop();
  });
});
