/**
 * The `remote` adapter end to end against a fake OpenAI-compatible server on loopback that requires a
 * bearer key read from the environment variable named in `api_key_env`: health-checked without a process,
 * used only where policy allows remote, the key never returned or logged; and a backend failure retried once
 * on the next allowed cell.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatResult, ResolveResult } from "../../ipc/protocol/policy.js";
import { type DaemonHandle, startDaemon, stopAll } from "../support/daemon-harness.js";
import { call, callError, type FakeOpenAi, startFakeOpenAi } from "./support.js";

const KEY = "sk-test-0123456789abcdef-do-not-leak";
/** Over the 1500 ms slow-route threshold of the node entry's http block. */
const SLOW_MS = 1700;
let fake: FakeOpenAi;
let d: DaemonHandle;

beforeAll(async () => {
  fake = await startFakeOpenAi(KEY, "gpt-fake", { "gpt-slow": SLOW_MS });
  const config = `
defaults:
  health: { interval: 200ms }
runtimes:
  - { id: cloud, adapter: remote, url: "${fake.url}/v1", api_key_env: RMX_P5_REMOTE_KEY, model: gpt-fake, auto_start: true }
  - { id: slowcloud, adapter: remote, url: "${fake.url}", api_key_env: RMX_P5_REMOTE_KEY, model: gpt-slow, auto_start: true }
  - { id: local, adapter: llama-stub, args: ["--alias", "local"], auto_start: true }
`;
  d = await startDaemon({ config, env: { RMX_P5_REMOTE_KEY: KEY }, ready: ["cloud", "slowcloud", "local"] });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fake?.close();
});

describe("remote adapter", () => {
  it("is health-checked with the key and without a process", async () => {
    const cloud = (await d.status()).runtimes.find((r) => r.id === "cloud");
    expect(cloud).toMatchObject({ adapter: "remote", state: "ready" });
    expect(cloud?.pid).toBeUndefined();
    expect(fake.authorizations.length).toBeGreaterThan(0);
    expect(fake.authorizations.every((a) => a === `Bearer ${KEY}`)).toBe(true);
  });

  it("is used only where policy allows remote, and never returns or logs the key", async () => {
    const refused = await d.cli(["resolve", "--model", "gpt-fake"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("remote:gpt-fake (runtime cloud): remote_not_allowed");

    await call(d, "policy.set", { allow_remote: true });
    const resolved = await call<ResolveResult>(d, "runtime.resolve", { model: "gpt-fake" });
    expect(resolved.chosen).toEqual({ cell: "remote:gpt-fake", runtime: "cloud" });

    const chats = fake.chats;
    const r = await d.cli(["--json", "chat", "--model", "gpt-fake", "hello", "remote"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as ChatResult;
    expect(result).toMatchObject({
      content: "remote says hi to 1 message(s)",
      cell: "remote:gpt-fake",
      runtime: "cloud",
      usage: { total_tokens: 8 },
    });
    expect(fake.chats).toBe(chats + 1);

    const status = JSON.stringify(await d.status());
    const policy = JSON.stringify(await call(d, "policy.get"));
    for (const text of [r.stdout, status, policy, d.stderr()]) expect(text).not.toContain(KEY);
  });

  it("annotates a slow route in the node's http block", async () => {
    const result = await call<ChatResult>(d, "chat.respond", {
      model: "gpt-slow",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(result.cell).toBe("remote:gpt-slow");
    expect(result.latency_ms).toBeGreaterThanOrEqual(SLOW_MS);
    const http = (await d.status()).node.http;
    expect(http.slow_routes).toEqual([
      expect.stringMatching(/^\/v1\/chat\/completions on remote:gpt-slow \(\d+ ms\)$/),
    ]);

    // Past its timeout a chat fails with TIMEOUT (not a retry with no time left).
    const late = await callError(d, "chat.respond", {
      model: "gpt-slow",
      timeout_ms: 300,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(late.stableCode).toBe("TIMEOUT");
    expect(late.message).toContain("chat: no answer within 300 ms (remote:gpt-slow:");
  });

  it("tries the next allowed cell once when the backend fails, and says so", async () => {
    await d.cli(["pin", "set", "--agent", "r", "remote:gpt-fake", "local"]);
    fake.failing = true;
    try {
      const result = await call<ChatResult>(d, "chat.respond", {
        agent: "r",
        messages: [{ role: "user", content: "hi" }],
      });
      expect(result).toMatchObject({
        runtime: "local",
        cell: "local@cpu/none",
        fallback: { used: true, from: "remote:gpt-fake" },
      });
      expect(result.fallback.reason).toContain("HTTP 500: upstream exploded");

      await call(d, "policy.set", { allow_fallback: false });
      const failed = await d.cli(["chat", "--agent", "r", "hi"]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("chat failed: remote:gpt-fake (runtime cloud)");
      expect(failed.stderr).toContain("no other allowed cell to try [BACKEND_FAILED]");
    } finally {
      fake.failing = false;
      await call(d, "policy.set", { allow_fallback: true });
    }
    const http = (await d.status()).node.http;
    expect(http.errors).toBeGreaterThanOrEqual(2);
  });
});
