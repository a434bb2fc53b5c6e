/**
 * Swap-group gaps on a real rmxd (fake nvidia-smi: gpu:0 with 24 GiB; stub runtimes whose GGUF estimates,
 * ~14.8 GiB each, cannot both fit):
 * - two concurrent requests for two stopped models: their starts take gpu:0's turn one after the other, so
 *   only one runs at a time (the second waits for the first's request, then swaps it out); both are served;
 * - a start waiting behind a lease goes on at the lease's release (not at http.start_timeout, 30 s here);
 * - the per-model queue is bounded: with `http.queue: 1`, a second request waiting for the same model is
 *   answered 503 `queue_full` with Retry-After.
 */
import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventNotificationParams } from "../../ipc/protocol/jsonrpc.js";
import type { Lease } from "../../ipc/protocol/policy.js";
import { collect } from "../matrix/support.js";
import { stopAll } from "../support/daemon-harness.js";
import { type Gateway, raw } from "./support.js";
import { startSwapGateway } from "./swap-support.js";

/** States in which a runtime holds its GPU memory. */
const HOLDING = new Set(["starting", "ready", "unhealthy", "stopping"]);

let dir: string;
let g: Gateway;

beforeAll(async () => {
  ({ g, dir } = await startSwapGateway({
    prefix: "rmx-http-swap-wake-",
    tokensPerSecond: 200,
    head: "http: { queue: 1, start_timeout: 30s }\n",
  }));
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

const ask = (model: string, maxTokens = 8) =>
  g
    .openai()
    .chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: maxTokens });

const payload = <T>(e: EventNotificationParams) => e.payload as T;
const swapOf = (e: EventNotificationParams) =>
  payload<{ action: string; id: string; busy?: string[]; stopped?: string[]; reason: string }>(e);

/** Replays state changes: the most runtimes holding gpu:0 memory at once. */
function mostHolding(events: readonly EventNotificationParams[]): number {
  const state = new Map<string, string>();
  let most = 0;
  for (const e of events) {
    if (e.topic !== "runtime.state.changed") continue;
    const p = payload<{ id: string; to: string }>(e);
    state.set(p.id, p.to);
    most = Math.max(most, [...state.values()].filter((s) => HOLDING.has(s)).length);
  }
  return most;
}

describe("swap groups: turns, wakes and the queue", () => {
  it("two concurrent requests for two stopped models that do not both fit: one runs at a time, both served", async () => {
    const client = await g.d.client();
    const events = await collect(client, ["runtime.swap", "runtime.state.changed"]);
    const since = events.mark();
    const [a, b] = await Promise.all([ask("a"), ask("b")]);
    expect(a.choices[0]?.message.content).toBeTruthy();
    expect(b.choices[0]?.message.content).toBeTruthy();
    const seen = events.seen.slice(since);
    expect(mostHolding(seen)).toBe(1);
    // The second start waited for the first one's request, then swapped it out.
    const swaps = seen.filter((e) => e.topic === "runtime.swap").map(swapOf);
    const wait = swaps.find((s) => s.action === "wait");
    expect(wait).toBeDefined();
    const first = wait?.busy?.[0] as string;
    expect(wait?.id).toBe(first === "a" ? "b" : "a");
    expect(swaps.find((s) => s.action === "stop")).toMatchObject({ id: wait?.id, stopped: [first] });
    expect(g.d.stderr()).toContain(`swap group: ${wait?.id} needs`);
    await client.close();
  }, 60_000);

  it("a start waiting behind a lease goes on when the lease is released", async () => {
    const client = await g.d.client();
    const events = await collect(client, ["runtime.swap", "lease.*"]);
    expect((await ask("a")).choices[0]?.message.content).toBeTruthy();
    const lease = (await client.call("lease.acquire", {
      target: "a",
      capability: "slot",
      ttl_ms: 120_000,
      holder: "swap-wake-test",
    })) as Lease;
    const since = events.mark();
    const b = ask("b");
    const wait = await events.next(
      (e) => e.topic === "runtime.swap" && swapOf(e).action === "wait" && swapOf(e).id === "b",
      20_000,
      "b waiting for the leased a",
      since,
    );
    expect(swapOf(wait).busy).toEqual(["a"]);
    const released = events.mark();
    await client.call("lease.release", { id: lease.id });
    const stop = await events.next(
      (e) => e.topic === "runtime.swap" && swapOf(e).action === "stop",
      20_000,
      "b's swap once the lease is gone",
      released,
    );
    expect(swapOf(stop)).toMatchObject({ id: "b", stopped: ["a"] });
    // The release came first, and nothing happened in between but b's look at the GPU.
    const after = events.seen.slice(released);
    expect(after.findIndex((e) => e.topic === "lease.released")).toBeLessThan(after.indexOf(stop));
    expect((await b).choices[0]?.message.content).toBeTruthy();
    await client.close();
  }, 60_000);

  it("a second request waiting for the same model is answered 503 queue_full with Retry-After", async () => {
    const client = await g.d.client();
    const events = await collect(client, ["runtime.swap"]);
    expect((await ask("a")).choices[0]?.message.content).toBeTruthy();
    const lease = (await client.call("lease.acquire", {
      target: "a",
      capability: "slot",
      ttl_ms: 120_000,
      holder: "queue-test",
    })) as Lease;
    const since = events.mark();
    const first = ask("b");
    await events.next(
      (e) => e.topic === "runtime.swap" && swapOf(e).action === "wait" && swapOf(e).id === "b",
      20_000,
      "the first request for b waiting",
      since,
    );
    const second = await raw(g.listen, {
      method: "POST",
      path: "/v1/chat/completions",
      headers: { authorization: `Bearer ${g.token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "b", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(second.status).toBe(503);
    expect(second.headers["retry-after"]).toBe("5");
    const error = (JSON.parse(second.body) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("queue_full");
    expect(error.message).toContain("http.queue 1");
    await client.call("lease.release", { id: lease.id });
    expect((await first).choices[0]?.message.content).toBeTruthy();
    await client.close();
  }, 60_000);
});
