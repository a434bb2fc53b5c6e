import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, rfc3339, systemClock } from "../../base/clock.js";
import { isRmxError, RmxError } from "../../base/errors.js";
import type { LeaseTopic } from "../../daemon/policy/lease.js";
import { LeaseManager } from "../../daemon/policy/lease.js";
import { MAX_TIMER_MS } from "../../daemon/policy/timers.js";
import type { Lease } from "../../ipc/protocol/policy.js";
import { FakeTimers } from "./fixtures.js";

const CELL = "llama-8b@gpu:0/none";

function setup(opts: { capacity?: number; failPersist?: () => boolean } = {}) {
  const clock = new ManualClock(Date.parse("2026-05-01T12:00:00.000Z"));
  const timers = new FakeTimers(clock);
  const events: { topic: LeaseTopic; lease: Lease; at: number }[] = [];
  const saved: Lease[][] = [];
  const capacities: Record<string, number> = { [CELL]: opts.capacity ?? 1, "rt-b": 2 };
  const manager = new LeaseManager({
    clock,
    timers,
    capacityOf: (t) => capacities[t],
    capabilitiesOf: (t) => (t === CELL ? ["gpu", "sandbox:none"] : ["cpu"]),
    persist: async (leases) => {
      if (opts.failPersist?.()) throw new Error("disk full");
      saved.push(leases);
    },
    emit: (topic, lease) => events.push({ topic, lease, at: clock.now() }),
  });
  const acquire = (
    holder: string,
    extra: { ttl_ms?: number; wait_ms?: number; target?: string; signal?: AbortSignal } = {},
  ) => manager.acquire({ target: extra.target ?? CELL, capability: "gpu", ttl_ms: 10_000, holder, ...extra });
  return { clock, timers, events, saved, manager, acquire, capacities };
}

async function rejection(p: Promise<unknown>): Promise<RmxError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof RmxError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

/** Lets queued promise callbacks (persist, waiter grants) run. */
const settle = () => new Promise((r) => setImmediate(r));

describe("LeaseManager: capacity and capabilities", () => {
  it("grants up to capacity, then fails at once naming the holders; persists and emits each change", async () => {
    const { manager, acquire, events, saved, clock } = setup({ capacity: 2 });
    const a = await acquire("agent-a");
    const b = await acquire("agent-b", { ttl_ms: 5000 });
    expect(a).toMatchObject({
      target: CELL,
      capability: "gpu",
      holder: "agent-a",
      acquired_at: rfc3339(clock.now()),
      expires_at: rfc3339(clock.now() + 10_000),
      ttl_ms: 10_000,
    });
    expect(a.id).not.toBe(b.id);
    expect(manager.held(CELL)).toBe(2);
    const full = await rejection(acquire("agent-c"));
    expect(full.code).toBe("LEASE_CAPACITY");
    expect(full.message).toBe(`lease on ${CELL}: all 2 slot(s) are held (by agent-b, agent-a)`);
    expect(full.data).toMatchObject({ capacity: 2, held: 2 });
    expect(events.map((e) => e.topic)).toEqual(["lease.acquired", "lease.acquired"]);
    expect(saved.at(-1)?.map((l) => l.id)).toEqual([b.id, a.id]);
    expect(await manager.release(a.id)).toBe(true);
    expect(await manager.release(a.id)).toBe(false);
    expect(manager.list().map((l) => l.id)).toEqual([b.id]);
    expect(saved.at(-1)?.map((l) => l.id)).toEqual([b.id]);
    expect(events.at(-1)).toMatchObject({ topic: "lease.released", lease: { id: a.id } });
  });

  it("refuses a capability the target does not offer, and unknown targets, with the offered list", async () => {
    const { manager } = setup();
    const e = await rejection(
      manager.acquire({ target: CELL, capability: "sandbox:bwrap", ttl_ms: 1000, holder: "x" }),
    );
    expect(e.code).toBe("LEASE_CAPABILITY");
    expect(e.message).toBe(
      `lease on ${CELL}: capability "sandbox:bwrap" is not offered (offers: gpu, sandbox:none)`,
    );
    expect(e.data).toMatchObject({ reason: "not_offered", offered: ["gpu", "sandbox:none"] });
    const u = await rejection(
      manager.acquire({ target: "nope", capability: "gpu", ttl_ms: 1000, holder: "x" }),
    );
    expect(u.code).toBe("LEASE_CAPABILITY");
    expect(u.data).toMatchObject({ reason: "unknown_target" });
    const bad = await rejection(
      manager.acquire({ target: CELL, capability: "gpu", ttl_ms: -1, holder: "x" }),
    );
    expect(bad.message).toContain("lease ttl_ms must be a positive number");
    expect(manager.held(CELL)).toBe(0);
  });

  it("gives a lease back when it cannot be persisted", async () => {
    let fail = true;
    const { manager, acquire, events } = setup({ failPersist: () => fail });
    await expect(acquire("a")).rejects.toThrow("disk full");
    expect(manager.held(CELL)).toBe(0);
    expect(events.map((e) => e.topic)).toEqual(["lease.acquired", "lease.released"]);
    fail = false;
    await expect(acquire("a")).resolves.toMatchObject({ holder: "a" });
  });
});

describe("LeaseManager: waiting", () => {
  it("a waiter gets the slot when it is released", async () => {
    const { manager, acquire, clock, timers } = setup();
    const a = await acquire("a");
    const waiting = acquire("b", { wait_ms: 500 });
    await settle();
    expect(manager.waiting(CELL)).toBe(1);
    timers.advance(200);
    await manager.release(a.id);
    const b = await waiting;
    expect(b.holder).toBe("b");
    expect(b.acquired_at).toBe(rfc3339(clock.now()));
    expect(manager.waiting(CELL)).toBe(0);
    // Its wait deadline was cleared: only the expiry timer is left.
    expect(timers.size).toBe(1);
  });

  it("serves waiters first come first served, and newcomers queue behind them", async () => {
    const { manager, acquire } = setup();
    const first = await acquire("first");
    const order: string[] = [];
    const track = (l: Lease) => {
      order.push(l.holder);
      return l;
    };
    const b = acquire("b", { wait_ms: 60_000 }).then(track);
    const c = acquire("c", { wait_ms: 60_000 }).then(track);
    await settle();
    await manager.release(first.id);
    const lb = await b;
    const d = acquire("d", { wait_ms: 60_000 }).then(track);
    await settle();
    expect(manager.waiting(CELL)).toBe(2);
    await manager.release(lb.id);
    const lc = await c;
    await manager.release(lc.id);
    await d;
    expect(order).toEqual(["b", "c", "d"]);
  });

  it("a waiter whose caller is gone leaves the queue at once and is never granted", async () => {
    const { manager, acquire, timers, events } = setup();
    const a = await acquire("a");
    const gone = new AbortController();
    const ghost = rejection(acquire("ghost", { wait_ms: 60_000, signal: gone.signal }));
    const next = acquire("next", { wait_ms: 60_000 });
    await settle();
    expect(manager.waiting(CELL)).toBe(2);
    timers.advance(250);
    gone.abort(new Error("connection 7 closed"));
    const e = await ghost;
    expect(e.code).toBe("LEASE_CAPACITY");
    expect(e.message).toBe(`lease on ${CELL}: the caller's connection closed while it waited`);
    expect(e.data).toMatchObject({ reason: "caller_gone", waited_ms: 250 });
    expect(manager.waiting(CELL)).toBe(1);
    await manager.release(a.id);
    expect((await next).holder).toBe("next");
    expect(events.filter((x) => x.lease.holder === "ghost")).toEqual([]);
    // An already-aborted caller is refused before it queues.
    const late = await rejection(acquire("late", { wait_ms: 60_000, signal: gone.signal }));
    expect(late.data).toMatchObject({ reason: "caller_gone" });
    expect(manager.waiting(CELL)).toBe(0);
  });

  it("fails with LEASE_CAPACITY when still full after wait_ms", async () => {
    const { manager, acquire, timers } = setup();
    await acquire("a");
    const waiting = rejection(acquire("b", { wait_ms: 500 }));
    await settle();
    timers.advance(499);
    expect(manager.waiting(CELL)).toBe(1);
    timers.advance(1);
    const e = await waiting;
    expect(e.code).toBe("LEASE_CAPACITY");
    expect(e.message).toBe(`lease on ${CELL}: still full after 500 ms`);
    expect(manager.waiting(CELL)).toBe(0);
  });

  it("an expiry wakes a waiter, and capacityChanged hands out new slots", async () => {
    const { manager, acquire, timers, capacities } = setup();
    await acquire("a", { ttl_ms: 1000 });
    const b = acquire("b", { wait_ms: 5000 });
    const c = acquire("c", { wait_ms: 5000 });
    await settle();
    timers.advance(1000);
    expect((await b).holder).toBe("b");
    capacities[CELL] = 2;
    manager.capacityChanged(CELL);
    expect((await c).holder).toBe("c");
  });

  it("stop fails every waiter and disarms the timers", async () => {
    const { manager, acquire, timers } = setup();
    await acquire("a");
    const waiting = rejection(acquire("b", { wait_ms: 5000 }));
    await settle();
    manager.stop();
    expect((await waiting).message).toContain("the daemon is stopping");
    expect(timers.size).toBe(0);
  });
});

describe("LeaseManager: exact expiry", () => {
  it("expires each lease exactly at expires_at with one timer armed for the earliest", async () => {
    const { manager, acquire, timers, events, clock, saved } = setup({ capacity: 3 });
    const start = clock.now();
    const a = await acquire("a", { ttl_ms: 3000 });
    const b = await acquire("b", { ttl_ms: 1000 });
    const c = await acquire("c", { ttl_ms: 1000 });
    expect(timers.size).toBe(1);
    expect(timers.nextAt()).toBe(start + 1000);
    timers.advance(999);
    expect(manager.held(CELL)).toBe(3);
    timers.advance(1);
    const expired = events.filter((e) => e.topic === "lease.expired");
    expect(expired.map((e) => e.lease.id).sort()).toEqual([b.id, c.id].sort());
    for (const e of expired) expect(rfc3339(e.at)).toBe(e.lease.expires_at);
    expect(timers.nextAt()).toBe(start + 3000);
    timers.advance(2000);
    expect(events.at(-1)).toMatchObject({ topic: "lease.expired", lease: { id: a.id }, at: start + 3000 });
    expect(timers.size).toBe(0);
    await settle();
    expect(saved.at(-1)).toEqual([]);
  });

  it("renew moves the expiry (and the timer); an unknown or lapsed lease is LEASE_NOT_FOUND", async () => {
    const { manager, acquire, timers, clock, events } = setup();
    const start = clock.now();
    const a = await acquire("a", { ttl_ms: 1000 });
    timers.advance(800);
    const renewed = await manager.renew(a.id);
    expect(renewed.expires_at).toBe(rfc3339(start + 1800));
    expect(timers.nextAt()).toBe(start + 1800);
    const longer = await manager.renew(a.id, 5000);
    expect(longer).toMatchObject({ ttl_ms: 5000, expires_at: rfc3339(start + 5800) });
    expect(events.map((e) => e.topic)).toEqual(["lease.acquired", "lease.renewed", "lease.renewed"]);
    expect((await rejection(manager.renew("lease-nope"))).code).toBe("LEASE_NOT_FOUND");
    // Due but the timer has not run yet: renewing it must not resurrect it.
    clock.advance(5000);
    const lapsed = await rejection(manager.renew(a.id));
    expect(lapsed.code).toBe("LEASE_NOT_FOUND");
    expect(events.at(-1)).toMatchObject({ topic: "lease.expired", lease: { id: a.id } });
  });

  it("restore keeps unexpired leases with their remaining time and expires the rest", async () => {
    const { manager, timers, events, clock } = setup({ capacity: 2 });
    const now = clock.now();
    const lease = (id: string, expiresAt: number): Lease => ({
      id,
      target: CELL,
      capability: "gpu",
      holder: id,
      acquired_at: rfc3339(now - 60_000),
      expires_at: rfc3339(expiresAt),
      ttl_ms: 70_000,
    });
    const kept = manager.restore([lease("old", now - 1), lease("live", now + 5000), lease("edge", now)]);
    expect(kept.map((l) => l.id)).toEqual(["live"]);
    expect(events.map((e) => [e.topic, e.lease.id])).toEqual([
      ["lease.expired", "old"],
      ["lease.expired", "edge"],
    ]);
    expect(manager.held(CELL)).toBe(1);
    timers.advance(4999);
    expect(manager.held(CELL)).toBe(1);
    timers.advance(1);
    expect(manager.held(CELL)).toBe(0);
    expect(events.at(-1)).toMatchObject({ topic: "lease.expired", lease: { id: "live" }, at: now + 5000 });
  });

  it("guards setTimeout's 2^31-1 ms limit for very long TTLs", async () => {
    const { manager, acquire, timers, clock } = setup();
    const start = clock.now();
    const days40 = 40 * 24 * 3600 * 1000;
    await acquire("a", { ttl_ms: days40 });
    expect(Math.max(...timers.requested)).toBeLessThanOrEqual(MAX_TIMER_MS);
    timers.advance(days40 - 1);
    expect(manager.held(CELL)).toBe(1);
    timers.advance(1);
    expect(manager.held(CELL)).toBe(0);
    expect(clock.now() - start).toBe(days40);
    expect(timers.requested.every((ms) => ms <= MAX_TIMER_MS)).toBe(true);
  });

  it("property: held never exceeds capacity and every lease expires exactly at expires_at", async () => {
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant("acquire" as const), ttl: fc.integer({ min: 1, max: 5000 }) }),
      fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
      fc.record({
        kind: fc.constant("renew" as const),
        pick: fc.nat(),
        ttl: fc.integer({ min: 1, max: 5000 }),
      }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const { manager, acquire, timers, events, clock } = setup({ capacity: 3 });
        for (const op of ops) {
          if (op.kind === "acquire") {
            await acquire("h", { ttl_ms: op.ttl }).catch((e) =>
              expect(isRmxError(e, "LEASE_CAPACITY")).toBe(true),
            );
          } else if (op.kind === "release" || op.kind === "renew") {
            const all = manager.list();
            const target = all[op.pick % Math.max(1, all.length)];
            if (target === undefined) continue;
            if (op.kind === "release") expect(await manager.release(target.id)).toBe(true);
            else await manager.renew(target.id, op.ttl);
          } else {
            timers.advance(op.ms);
          }
          expect(manager.held(CELL)).toBeLessThanOrEqual(3);
          for (const l of manager.list()) expect(Date.parse(l.expires_at)).toBeGreaterThan(clock.now());
          // Exactly one expiry timer while leases are held, none otherwise.
          expect(timers.size).toBe(manager.held(CELL) > 0 ? 1 : 0);
        }
        for (const e of events.filter((x) => x.topic === "lease.expired")) {
          expect(rfc3339(e.at)).toBe(e.lease.expires_at);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("LeaseManager: real timers", () => {
  let manager: LeaseManager | undefined;
  afterEach(() => manager?.stop());

  it("expires a short lease on its own, announced by lease.expired", async () => {
    let onExpired: (lease: Lease) => void = () => {};
    const expired = new Promise<Lease>((resolve) => {
      onExpired = resolve;
    });
    manager = new LeaseManager({
      clock: systemClock,
      capacityOf: () => 1,
      capabilitiesOf: () => ["gpu"],
      persist: async () => {},
      emit: (topic, lease) => {
        if (topic === "lease.expired") onExpired(lease);
      },
    });
    const lease = await manager.acquire({ target: CELL, capability: "gpu", ttl_ms: 60, holder: "real" });
    const gone = await expired;
    expect(gone.id).toBe(lease.id);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(lease.expires_at));
    expect(manager.held(CELL)).toBe(0);
  });
});
