/**
 * Streaming through the gateway on a real rmxd: a client that aborts mid-stream frees the backend's slot;
 * 64 concurrent streams all complete; a client that never reads keeps rmxd's memory bounded (backpressure
 * reaches the backend instead of buffering); a port in use leaves the daemon running without the gateway.
 */
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../policy-e2e/support.js";
import { startDaemon, stopAll, tempDir, until } from "../support/daemon-harness.js";
import { type Gateway, startGateway, stubGet } from "./support.js";

const CONFIG = `
runtimes:
  - id: slow
    adapter: llama-stub
    args: ["--alias", "slow", "--slots", "--stub-tokens-per-second", "40"]
    auto_start: true
  - id: wide
    adapter: llama-stub
    args: ["--alias", "wide", "--stub-tokens-per-second", "400"]
    slots: 64
    context: 262144
    auto_start: true
  - id: flood
    adapter: llama-stub
    args: ["--alias", "flood", "--stub-tokens-per-second", "100000000"]
    context: 16000000
    auto_start: true
`;

let dir: string;
let g: Gateway;

beforeAll(async () => {
  dir = await tempDir("rmx-http-stream-");
  g = await startGateway({ config: CONFIG, dir, ready: ["slow", "wide", "flood"] });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

async function endpointOf(id: string): Promise<string> {
  const rt = (await g.d.status()).runtimes.find((r) => r.id === id);
  if (rt?.endpoint === undefined) throw new Error(`${id} has no endpoint`);
  return rt.endpoint;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

describe("streaming", () => {
  it("a client aborting mid-stream aborts the upstream request and frees the stub's slot", async () => {
    const endpoint = await endpointOf("slow");
    const abort = new AbortController();
    const stream = await g.openai().chat.completions.create(
      {
        model: "slow",
        messages: [{ role: "user", content: "a long story" }],
        max_tokens: 2000,
        stream: true,
      },
      { signal: abort.signal },
    );
    let pieces = 0;
    const busy = async () =>
      ((await stubGet(endpoint, "/slots")) as { is_processing: boolean }[]).some((s) => s.is_processing);
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) pieces++;
        if (pieces === 3) {
          expect(await busy()).toBe(true);
          abort.abort();
          break;
        }
      }
    } catch (error) {
      // The client may report the abort as an error; either way the stream is over.
      expect(String(error)).toMatch(/abort/i);
    }
    expect(pieces).toBe(3);
    // 2000 tokens at 40/s would hold the slot for 50 s: it is free long before.
    await until(async () => !(await busy()), 10_000, "the stub's slot to be released");
  });

  it("64 concurrent streams all complete", async () => {
    const client = g.openai();
    const results = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const stream = await client.chat.completions.create({
          model: "wide",
          messages: [{ role: "user", content: `stream ${i}` }],
          max_tokens: 20,
          stream: true,
        });
        let n = 0;
        let finish: string | null = null;
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content) n++;
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        return { n, finish };
      }),
    );
    expect(results.every((r) => r.n === 20 && r.finish === "length")).toBe(true);
  }, 60_000);

  it("a client that never reads keeps rmxd's memory bounded while the stub streams a long answer", async () => {
    const before = rssBytes(g.d.pid);
    const [host, port] = [g.listen.slice(0, g.listen.lastIndexOf(":")), Number(g.listen.split(":").pop())];
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const body = JSON.stringify({
      model: "flood",
      messages: [{ role: "user", content: "go" }],
      max_tokens: 10_000_000,
      stream: true,
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: ${g.listen}\r\nauthorization: Bearer ${g.token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Read the first bytes (the stream began), then stop reading for good.
    await new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.pause();
    const stubPid = (await g.d.status()).runtimes.find((r) => r.id === "flood")?.pid as number;
    const stubBefore = rssBytes(stubPid);
    let peak = before;
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      peak = Math.max(peak, rssBytes(g.d.pid));
    }
    const growth = peak - before;
    const stubGrowth = rssBytes(stubPid) - stubBefore;
    console.log(
      `rmxd RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB while the stub (which ignores backpressure) grew ${(stubGrowth / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(64 * 2 ** 20);
    socket.destroy();
  }, 30_000);
});

describe("start-up", () => {
  it("a port in use is a warning naming the port and the key; the daemon keeps running", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const d = await startDaemon({ args: ["--http", `127.0.0.1:${port}`] });
      // The socket answers before the gateway has tried its port: wait for the attempt's verdict.
      const token = () => call<{ listen?: string; problem?: string }>(d, "http.token");
      await until(async () => (await token()).problem !== undefined, 10_000, "the gateway's port problem");
      const info = await token();
      expect(info.listen).toBeUndefined();
      expect(info.problem).toContain(`port ${port} is in use`);
      expect(info.problem).toContain("http.listen");
      expect(d.stderr()).toContain(`port ${port} is in use`);
      expect((await d.status()).runtimes.length).toBeGreaterThan(0);
    } finally {
      blocker.close();
    }
  });

  it("refuses auth none beyond loopback", async () => {
    const d = await startDaemon({ config: "http: { listen: 0.0.0.0:0, auth: none }\n" }).catch(
      (e: unknown) => e,
    );
    expect(String(d)).toMatch(/http\.auth: none is allowed only on a loopback address/);
  });
});
