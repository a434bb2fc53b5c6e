/**
 * `runtime.health` is published when an entry changed, not every interval: quiet runtimes cost no events,
 * a new subscriber gets the whole state at the next tick, latency figures are refreshed once a minute.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../base/clock.js";
import { EventBus } from "../../daemon/events.js";
import { ChangeGate } from "../../daemon/telemetry/change-gate.js";
import { NodeHealthPublisher } from "../../daemon/telemetry/node-health.js";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";

const status = (code: string) => ({
  code,
  severity: "info",
  severity_label: "Info",
  label: code,
  aria_hint: code,
});

function snapshot(
  ids: string[],
  at: number,
  over: Record<string, Partial<{ state: string; p50: number; errors: number }>> = {},
) {
  const stamp = new Date(at).toISOString();
  return {
    node: {
      target: "n",
      status: status("ok"),
      generated: stamp,
      http: { routes: 0, hits: 0, errors: 0 },
      runtime: { total: ids.length, updated: stamp, states: { ready: ids.length } },
    },
    summary: { total: ids.length, ready: ids.length },
    runtimes: ids.map((id) => ({
      id,
      state: over[id]?.state ?? "ready",
      status: status("ok"),
      health: {
        window_seconds: 300,
        requests: at,
        errors: over[id]?.errors ?? 0,
        error_rate: 0,
        p50_ms: over[id]?.p50 ?? 1 + (at % 7),
        ewma_ms: 1 + (at % 5),
        last_ok_at: stamp,
      },
      restart_budget: { max_restarts: 3, window_seconds: 600, used: 0, remaining: 3 },
    })),
  } as unknown as RuntimeStatusResult;
}

function publisherOn(bus: EventBus, intervalMs = 5000) {
  let current = snapshot([], 0);
  const publisher = new NodeHealthPublisher(
    { bus, logger: { error: () => {} }, status: () => current },
    intervalMs,
  );
  return {
    tick(next: RuntimeStatusResult) {
      current = next;
      publisher.publish();
    },
  };
}

describe("runtime.health on change", () => {
  it("50 quiet runtimes: all of them once, then nothing while only timestamps and latencies move", () => {
    const bus = new EventBus(systemClock);
    const events: unknown[] = [];
    bus.subscribe(["runtime.health"], (e) => events.push(e.payload));
    const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
    const p = publisherOn(bus);
    p.tick(snapshot(ids, 1000));
    expect(events.length, "first tick: node + every runtime").toBe(51);
    for (let t = 2; t <= 10; t++) p.tick(snapshot(ids, t * 1000));
    expect(events.length, "quiet ticks publish nothing").toBe(51);
  });

  it("a changed runtime, and only it, is published; a new subscriber gets everything once", () => {
    const bus = new EventBus(systemClock);
    const events: { scope: string; id?: string; state?: string }[] = [];
    bus.subscribe(["runtime.health"], (e) => events.push(e.payload as never));
    const p = publisherOn(bus);
    p.tick(snapshot(["a", "b"], 1));
    events.length = 0;
    p.tick(snapshot(["a", "b"], 2, { b: { state: "degraded" } }));
    expect(events.map((e) => `${e.scope} ${e.id ?? ""} ${e.state ?? ""}`)).toEqual(["runtime b degraded"]);
    events.length = 0;
    p.tick(snapshot(["a", "b"], 3, { b: { state: "degraded", errors: 1 } }));
    expect(
      events.map((e) => e.id),
      "an error counts as a change",
    ).toEqual(["b"]);
    events.length = 0;
    const late: unknown[] = [];
    bus.subscribe(["runtime.*"], (e) => late.push(e));
    p.tick(snapshot(["a", "b"], 4, { b: { state: "degraded", errors: 1 } }));
    expect(late.length, "the new subscriber's first tick: node + both").toBe(3);
  });

  it("unchanged entries are republished once a minute for their latency figures", () => {
    const bus = new EventBus(systemClock);
    let count = 0;
    bus.subscribe(["runtime.health"], () => count++);
    const p = publisherOn(bus, 5000);
    for (let t = 1; t <= 12; t++) p.tick(snapshot(["a"], t));
    expect(count, "12 ticks of 5 s: the first only").toBe(2);
    p.tick(snapshot(["a"], 13));
    expect(count, "the 13th tick (60 s later) refreshes").toBe(4);
  });

  it("ChangeGate: publishes exactly when the signature differs from the last published one", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("x", "y", "z"), { maxLength: 40 }), (signatures) => {
        const gate = new ChangeGate();
        let last: string | undefined;
        for (const s of signatures) {
          gate.begin(1);
          expect(gate.changed("k", s)).toBe(s !== last);
          last = s;
        }
      }),
    );
  });
});
