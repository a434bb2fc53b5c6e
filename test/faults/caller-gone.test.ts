/**
 * Work done for a caller dies with its connection (the "trust" issue), on a real daemon:
 * - a `lease.acquire` queued on a full cell whose client disconnects leaves the queue: once capacity
 *   frees, the next waiter gets the slot and `lease.list` never shows the dead one;
 * - a `chat.respond` in flight whose client disconnects aborts its backend request, so the backend's
 *   slot stops generating for nobody.
 *
 * Old code (main): the dead waiter was granted the freed slot for its whole TTL (persisted across
 * restarts) while the live waiter kept waiting; the backend kept generating until the chat's timeout.
 */
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import type { Lease } from "../../ipc/protocol/policy.js";
import { RawConn } from "../ipc/helpers.js";
import { stopAll, until } from "../support/daemon-harness.js";
import {
  configText,
  record,
  removeDaemonDirs,
  report,
  runtimeView,
  startFaultDaemon,
  stubRuntime,
} from "./fault-support.js";

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

const line = (id: number, method: string, params: unknown) =>
  `${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`;

/** Sends `method` and a `daemon.hello` behind it; the hello's answer means the first call is being served. */
async function sendAndSync(conn: RawConn, method: string, params: unknown): Promise<void> {
  conn.send(line(1, method, params) + line(2, "daemon.hello", {}));
  await until(() => conn.messages().some((m) => m.id === 2), 10_000, `the daemon.hello behind ${method}`);
}

describe("a caller that disconnects", () => {
  it("leaves the lease queue: the next waiter gets the freed slot, the dead one never shows", async () => {
    const h = await startFaultDaemon({
      config: configText({ runtimes: [stubRuntime("pool", [], { auto_start: true, slots: 1 })] }),
      ready: ["pool"],
    });
    const events = await record(h, ["lease.*"]);
    const client = await h.client();
    try {
      const slot = { target: "pool", capability: "slot", ttl_ms: 60_000 };
      const alice = (await client.call("lease.acquire", { ...slot, holder: "alice" })) as Lease;

      const ghost = await RawConn.open(h.socket);
      await sendAndSync(ghost, "lease.acquire", { ...slot, holder: "ghost", wait_ms: 60_000 });
      expect(
        ghost.messages().some((m) => m.id === 1),
        "the ghost must be queued, not answered",
      ).toBe(false);
      ghost.close();

      const carol = await RawConn.open(h.socket);
      await sendAndSync(carol, "lease.acquire", { ...slot, holder: "carol", wait_ms: 20_000 });

      const freedAt = performance.now();
      await client.call("lease.release", { id: alice.id });
      const granted = await events.next("lease.acquired", (p) => p.holder !== "alice", 20_000);
      const grantMs = performance.now() - freedAt;
      const answer = await until(
        () => carol.messages().find((m) => m.id === 1),
        20_000,
        "carol's lease",
      ).catch(() => undefined);
      const listed = ((await client.call("lease.list", {})) as { leases: Lease[] }).leases;
      const ghostEvents = events.events.filter((e) => e.payload?.holder === "ghost").map((e) => e.topic);
      report("lease waiter gone", {
        freed_slot_went_to: granted.payload.holder,
        grant_after_release_ms: Math.round(grantMs),
        listed: listed.map((l) => l.holder),
        ghost_events: ghostEvents,
      });
      expect(granted.payload.holder).toBe("carol");
      expect(answer).toMatchObject({ id: 1, result: { holder: "carol", target: "pool" } });
      expect(listed.map((l) => l.holder)).toEqual(["carol"]);
      expect(ghostEvents).toEqual([]);
      carol.close();
    } finally {
      await client.close();
      await events.close();
    }
  }, 90_000);

  it("aborts its chat's backend request: the backend slot stops generating", async () => {
    const h = await startFaultDaemon({
      config: configText({
        runtimes: [
          stubRuntime("slow", ["--alias", "slow", "--slots", "--stub-tokens-per-second", "5"], {
            auto_start: true,
          }),
        ],
      }),
      ready: ["slow"],
    });
    const rt = await runtimeView(h, "slow");
    const endpoint = rt.endpoint!;
    const processing = async (): Promise<boolean> => {
      const res = await fetch(new URL("/slots", endpoint));
      const slots = (await res.json()) as Array<{ is_processing: boolean }>;
      return slots.some((s) => s.is_processing);
    };
    const conn = await RawConn.open(h.socket);
    conn.send(
      line(1, "chat.respond", {
        model: "slow",
        messages: [{ role: "user", content: "tell me a long story" }],
        max_tokens: 10_000,
        timeout_ms: 600_000,
      }),
    );
    await until(processing, 20_000, "the backend slot to start generating");
    const closedAt = performance.now();
    conn.close();
    const stopped = await until(async () => !(await processing()), 15_000, "the backend slot to stop").then(
      () => true,
      () => false,
    );
    const freeMs = performance.now() - closedAt;
    report("chat caller gone", {
      backend_slot_stopped: stopped,
      stopped_after_disconnect_ms: stopped ? Math.round(freeMs) : `>${Math.round(freeMs)}`,
    });
    expect(stopped, "the backend kept generating for a caller that had gone").toBe(true);
  }, 90_000);
});
