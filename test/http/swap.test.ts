/**
 * Swap groups on a real rmxd with a fake nvidia-smi (gpu:0, 24 GiB) and two stub runtimes whose GGUF
 * estimates (~14.8 GiB each) cannot both fit: asking for B while A idles stops A (a `runtime.swap` event and a
 * log line with the reason) and B serves; while a request to A is in flight, B waits instead of stopping A,
 * and starts once A's request ends.
 */
import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect } from "../matrix/support.js";
import { stopAll } from "../support/daemon-harness.js";
import type { Gateway } from "./support.js";
import { startSwapGateway } from "./swap-support.js";

let dir: string;
let g: Gateway;

beforeAll(async () => {
  ({ g, dir } = await startSwapGateway({ prefix: "rmx-http-swap-", tokensPerSecond: 50 }));
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

const ask = (model: string, maxTokens = 4) =>
  g
    .openai()
    .chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: maxTokens });

const stateOf = async (id: string) => (await g.d.status()).runtimes.find((r) => r.id === id)?.state;

describe("swap group on one GPU", () => {
  it("asking for B while A idles stops A with a reason, then B serves", async () => {
    const client = await g.d.client();
    const events = await collect(client, ["runtime.swap"]);
    const a = await ask("a");
    expect(a.choices[0]?.message.content).toBeTruthy();
    expect(await stateOf("a")).toBe("ready");
    const since = events.mark();
    const b = await ask("b");
    expect(b.choices[0]?.message.content).toBeTruthy();
    const swap = await events.next((e) => e.topic === "runtime.swap", 5000, "runtime.swap", since);
    expect(swap.payload).toMatchObject({ action: "stop", id: "b", gpu: "gpu:0", stopped: ["a"] });
    const reason = (swap.payload as { reason: string }).reason;
    expect(reason).toMatch(/b needs 1\d\.\d GiB on gpu:0 \(24\.0 GiB\)/);
    expect(reason).toContain("least recently used idle a");
    expect(await stateOf("a")).toBe("idle");
    expect(await stateOf("b")).toBe("ready");
    expect(g.d.stderr()).toContain("swap group: b needs");
    await client.close();
  }, 60_000);

  it("with a request to A in flight, B waits instead of stopping A, and starts when it ends", async () => {
    const client = await g.d.client();
    const events = await collect(client, ["runtime.swap", "runtime.state.changed"]);
    // A comes back (stopping idle B), then streams a long answer.
    const since = events.mark();
    const abort = new AbortController();
    const stream = await g
      .openai()
      .chat.completions.create(
        { model: "a", messages: [{ role: "user", content: "long" }], max_tokens: 2000, stream: true },
        { signal: abort.signal },
      );
    const iter = stream[Symbol.asyncIterator]();
    await iter.next();
    await events.next(
      (e) => e.topic === "runtime.swap" && (e.payload as { id: string }).id === "a",
      5000,
      "a's swap stopping b",
      since,
    );
    expect(await stateOf("b")).toBe("idle");
    const waitMark = events.mark();
    const b = ask("b");
    const wait = await events.next((e) => e.topic === "runtime.swap", 10_000, "b's wait", waitMark);
    expect(wait.payload).toMatchObject({ action: "wait", id: "b", busy: ["a"] });
    expect((wait.payload as { reason: string }).reason).toContain("serve requests now");
    expect(await stateOf("a")).toBe("ready");
    // A's request ends: B's start goes on, stopping A.
    abort.abort();
    await iter.return?.();
    const answer = await b;
    expect(answer.choices[0]?.message.content).toBeTruthy();
    const stop = events.seen
      .slice(waitMark)
      .find((e) => e.topic === "runtime.swap" && (e.payload as { action: string }).action === "stop");
    expect(stop?.payload).toMatchObject({ id: "b", stopped: ["a"] });
    // A was never stopped while its request was in flight: its stop comes after the wait.
    const aLeft = events.seen
      .slice(since)
      .findIndex(
        (e) =>
          e.topic === "runtime.state.changed" &&
          (e.payload as { id: string; to: string }).id === "a" &&
          (e.payload as { to: string }).to === "stopping",
      );
    expect(aLeft).toBeGreaterThan(events.seen.slice(since).indexOf(wait));
    await client.close();
  }, 60_000);
});
