/**
 * Leases, idle stop / on-demand start and schedules on a real daemon: lease capacity and capability
 * refusals (exit 3), exact expiry with `lease.expired`, held leases keeping a runtime awake, persistence
 * across a daemon restart with the remaining time; an idle runtime stopped after `idle_ttl` and brought back
 * by a chat without using its restart budget; a cron schedule starting a runtime.
 */
import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatrixResult } from "../../ipc/protocol/matrix.js";
import type { Lease, LeaseResult } from "../../ipc/protocol/policy.js";
import { type DaemonHandle, pidAlive, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { call, callError, type EventRecorder, recordEvents } from "./support.js";

const CONFIG = `
runtimes:
  - { id: sleepy, adapter: llama-stub, args: ["--alias", "sleepy"], auto_start: true, idle_ttl: 500ms }
  - { id: pool, adapter: llama-stub, args: ["--alias", "pool"], auto_start: true, slots: 2 }
  - { id: nightly, adapter: llama-stub, args: ["--alias", "nightly"] }
schedule:
  - { id: warm-nightly, cron: "* * * * * *", action: start, runtime: nightly }
`;

let dir: string;
let d: DaemonHandle;
let events: EventRecorder;

beforeAll(async () => {
  dir = await tempDir("rmx-p5-leases-");
  d = await startDaemon({ config: CONFIG, dir, ready: ["pool"] });
  events = await recordEvents(d, ["lease.*", "schedule.fired", "runtime.state.changed"]);
}, 60_000);

afterAll(async () => {
  await events?.close();
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

const acquire = (params: Record<string, unknown>) =>
  call<LeaseResult>(d, "lease.acquire", { capability: "slot", holder: "tester", ttl_ms: 60_000, ...params });

describe("idle stop and on-demand start", () => {
  it("stops an idle runtime after idle_ttl and brings it back for a chat, using no restart budget", async () => {
    const idle = await d.waitForState("sleepy", ["idle"], 15_000);
    expect(idle).toMatchObject({ desired: "running", restarts_total: 0, restart_budget: { used: 0 } });
    expect(idle.pid).toBeUndefined();
    expect(idle.status.label).toContain("Idle");
    expect(idle.reason).toBe("stopped after idle time; starts on demand");

    const r = await d.cli(["chat", "--model", "sleepy", "wake", "up"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("served by sleepy@cpu/none (runtime sleepy");
    const awake = (await d.status()).runtimes.find((x) => x.id === "sleepy");
    expect(awake?.pid).toBeGreaterThan(0);
    expect(awake).toMatchObject({ restarts_total: 0, restart_budget: { used: 0 } });

    await d.waitForState("sleepy", ["idle"], 15_000); // and idle again after the request
  });

  it("a lease wakes an idle runtime and keeps it awake until the lease ends", async () => {
    await d.waitForState("sleepy", ["idle"], 15_000);
    const lease = await acquire({ target: "sleepy", ttl_ms: 1500 });
    expect(lease.runtimes).toEqual([expect.objectContaining({ id: "sleepy", state: "ready" })]);
    const wokeAt = events.events.length;
    await events.waitFor("lease.expired", (p) => p.id === lease.id, 10_000);
    const whileHeld = events.events
      .slice(wokeAt)
      .filter((e) => e.topic === "runtime.state.changed")
      .map((e) => e.payload as { id: string; to: string })
      .filter((p) => p.id === "sleepy" && (p.to === "stopping" || p.to === "idle"));
    // Nothing stopped sleepy while the lease was held, though its 500 ms idle_ttl passed three times over.
    expect(whileHeld).toEqual([]);
    await d.waitForState("sleepy", ["idle"], 15_000);
  });
});

describe("schedules", () => {
  it("fires a cron entry that starts a runtime, and publishes schedule.fired", async () => {
    const fired = await events.waitFor("schedule.fired", (p) => p.id === "warm-nightly", 5000);
    expect(fired.payload).toMatchObject({ id: "warm-nightly", action: "start", runtime: "nightly" });
    expect(Number.isNaN(Date.parse((fired.payload as { at: string }).at))).toBe(false);
    const nightly = await d.waitForState("nightly", ["ready"]);
    expect(nightly.desired).toBe("running");
  });
});

describe("leases", () => {
  it("grants up to the cell's capacity and refuses the rest with the reason (exit 3)", async () => {
    const a = await acquire({ target: "pool", holder: "alice" });
    const b = await acquire({ target: "pool@cpu/none", holder: "bob" });
    expect(a).toMatchObject({ target: "pool", capability: "slot", holder: "alice", ttl_ms: 60_000 });
    expect(Date.parse(a.expires_at) - Date.parse(a.acquired_at)).toBe(60_000);

    const full = await d.cli([
      "lease",
      "acquire",
      "--target",
      "pool",
      "--capability",
      "slot",
      "--ttl",
      "30s",
      "--holder",
      "carol",
    ]);
    expect(full.code).toBe(3);
    expect(full.stderr).toContain(
      "lease on pool: all 2 slot(s) are held (alice on pool, bob on pool@cpu/none) [LEASE_CAPACITY]",
    );

    const gpu = await d.cli([
      "lease",
      "acquire",
      "--target",
      "pool",
      "--capability",
      "gpu",
      "--ttl",
      "30s",
      "--holder",
      "carol",
    ]);
    expect(gpu.code).toBe(3);
    expect(gpu.stderr).toContain(
      'capability "gpu" is not offered (offers: slot, sandbox:none) [LEASE_CAPABILITY]',
    );

    const unknown = await callError(d, "lease.acquire", {
      target: "nope",
      capability: "slot",
      ttl_ms: 1000,
      holder: "x",
    });
    expect(unknown.stableCode).toBe("LEASE_CAPABILITY");

    // Held leases show in the cell's load in the matrix.
    const matrix = await call<MatrixResult>(d, "matrix.get");
    expect(matrix.cells.find((c) => c.key === "pool@cpu/none")?.load).toMatchObject({
      leases_held: 2,
      lease_capacity: 2,
    });

    // A full cell is passed over for chat too.
    const refused = await d.cli(["chat", "--model", "pool", "hi"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("no_lease_capacity");

    // Waiting for a slot: granted when one is released.
    const waiting = acquire({ target: "pool", holder: "carol", wait_ms: 10_000 });
    const released = await d.cli(["lease", "release", "--id", a.id]);
    expect(released.code, released.stderr).toBe(0);
    expect((await waiting).holder).toBe("carol");

    const list = await d.cli(["--json", "lease", "list", "--target", "pool"]);
    expect((JSON.parse(list.stdout) as Lease[]).map((l) => l.holder)).toEqual(["carol"]);
    for (const l of (await call<{ leases: Lease[] }>(d, "lease.list")).leases)
      await call(d, "lease.release", { id: l.id });
    expect(b.id).toMatch(/^lease-/);
    expect((await callError(d, "lease.release", { id: b.id })).stableCode).toBe("LEASE_NOT_FOUND");
  });

  it("expires a lease exactly at its TTL with lease.expired; renew extends it", async () => {
    const renewed = await acquire({ target: "pool", holder: "dave", ttl_ms: 30_000 });
    const r = await d.cli(["--json", "lease", "renew", "--id", renewed.id, "--ttl", "700ms"]);
    expect(r.code, r.stderr).toBe(0);
    const after = JSON.parse(r.stdout) as Lease;
    expect(after.ttl_ms).toBe(700);
    expect(Date.parse(after.expires_at)).toBeLessThan(Date.parse(renewed.expires_at));
    const expired = await events.waitFor("lease.expired", (p) => p.id === renewed.id, 10_000);
    const at = Date.parse(expired.time);
    expect(at).toBeGreaterThanOrEqual(Date.parse(after.expires_at));
    expect((await call<{ leases: Lease[] }>(d, "lease.list")).leases.map((l) => l.id)).not.toContain(
      renewed.id,
    );
  });

  it("keeps leases across a daemon restart with their remaining time", async () => {
    const lease = await acquire({ target: "pool", holder: "erin", ttl_ms: 120_000 });
    await events.close();
    const oldPid = d.pid;
    await d.stop();
    expect(pidAlive(oldPid)).toBe(false);

    d = await startDaemon({ config: CONFIG, dir, ready: ["pool"] });
    events = await recordEvents(d, ["lease.*", "schedule.fired", "runtime.state.changed"]);
    const { leases } = await call<{ leases: Lease[] }>(d, "lease.list");
    const back = leases.find((l) => l.id === lease.id);
    expect(back).toEqual(stripRuntimes(lease));
    const remaining = Date.parse(back?.expires_at ?? "") - Date.now();
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThan(120_000);

    // Still counted: one more slot is free, then the cell is full.
    await acquire({ target: "pool", holder: "frank" });
    const full = await callError(d, "lease.acquire", {
      target: "pool",
      capability: "slot",
      ttl_ms: 1000,
      holder: "gina",
    });
    expect(full.stableCode).toBe("LEASE_CAPACITY");
  });
});

function stripRuntimes(lease: LeaseResult): Lease {
  const { runtimes: _runtimes, ...rest } = lease;
  return rest;
}
