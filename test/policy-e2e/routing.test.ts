/**
 * Routing through the matrix with three real stub runtimes serving GGUF models of different sizes and
 * speeds: chat end to end (plain and streamed) and counted, a pin obeyed, resolve's reasons, every mode,
 * and the quick actions refusing bad requests while the old process keeps serving.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatResult, QuickActionResult, ResolveResult } from "../../ipc/protocol/policy.js";
import { type DaemonHandle, startDaemon, stopAll, tempDir } from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";
import { call, callError } from "./support.js";

let d: DaemonHandle;
let dir: string;

/** F32 tensors: parameter count = product of dims. */
async function model(name: string, dims: [number, number]): Promise<string> {
  const file = path.join(dir, `${name}.gguf`);
  await writeTinyGguf(file, { name, tensors: [{ name: "token_embd.weight", dims, type: 0 }] });
  return file;
}

beforeAll(async () => {
  dir = await tempDir("rmx-p5-routing-");
  const small = await model("small", [8, 16]);
  const medium = await model("medium", [64, 64]);
  const big = await model("big", [256, 256]);
  await model("other", [16, 16]);
  const config = `
models:
  - { id: small, path: ${small} }
  - { id: medium, path: ${medium} }
  - { id: big, path: ${big} }
defaults:
  health: { interval: 250ms }
runtimes:
  - { id: rt-small, adapter: llama-stub, model: small, auto_start: true, args: ["--stub-tokens-per-second", "2000"] }
  - { id: rt-medium, adapter: llama-stub, model: medium, auto_start: true, args: ["--stub-tokens-per-second", "50"] }
  - { id: rt-big, adapter: llama-stub, model: big, auto_start: true, args: ["--stub-tokens-per-second", "25"] }
`;
  d = await startDaemon({ config, dir, ready: ["rt-small", "rt-medium", "rt-big"] });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

const chat = (params: Record<string, unknown>) =>
  call<ChatResult>(d, "chat.respond", {
    messages: [{ role: "user", content: "hello there" }],
    max_tokens: 6,
    ...params,
  });

describe("chat through the matrix", () => {
  it("answers end to end with the cell that served it, and counts it in the node's http block", async () => {
    const before = (await d.status()).node.http;
    const r = await d.cli(["chat", "--model", "small", "--max-tokens", "5", "hello", "there"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]?.split(/\s+/).length).toBeGreaterThanOrEqual(1);
    expect(r.stdout).toContain("served by small@cpu/none (runtime rt-small, model small,");

    const json = JSON.parse(
      (await d.cli(["--json", "chat", "--model", "small", "--max-tokens", "5", "hi"])).stdout,
    ) as ChatResult;
    expect(json).toMatchObject({
      cell: "small@cpu/none",
      runtime: "rt-small",
      model: "small",
      fallback: { used: false },
    });
    expect(json.content.length).toBeGreaterThan(0);
    expect(json.usage?.completion_tokens).toBe(5);
    expect(json.latency_ms).toBeGreaterThan(0);

    const http = (await d.status()).node.http;
    expect(http.hits).toBe(before.hits + 2);
    expect(http.routes).toBeGreaterThanOrEqual(1);
    expect(http.errors).toBe(before.errors);
  });

  it("streams chat.delta notifications whose pieces add up to the answer", async () => {
    const client = await d.client();
    const pieces: string[] = [];
    client.onNotification("chat.delta", (p: { request: string; content: string }) => {
      if (p.request === "stream-test") pieces.push(p.content);
    });
    const result = (await client.call("chat.respond", {
      messages: [{ role: "user", content: "stream please" }],
      model: "medium",
      max_tokens: 8,
      stream: true,
      request: "stream-test",
    })) as ChatResult;
    await client.close();
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(result.content);
    expect(result).toMatchObject({
      request: "stream-test",
      cell: "medium@cpu/none",
      usage: { completion_tokens: 8 },
    });

    const cli = await d.cli(["chat", "--stream", "--model", "medium", "--max-tokens", "4", "hi"]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain("served by medium@cpu/none");
  });
});

describe("pins and resolve", () => {
  it("obeys a pin and explains every cell passed over", async () => {
    const set = await d.cli(["pin", "set", "--agent", "coder", "medium@cpu/*", "small"]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("agent:coder: medium@cpu/*, then small@*/*");
    const list = await d.cli(["--json", "pin", "list"]);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({
        scope: "agent:coder",
        agent: "coder",
        patterns: ["medium@cpu/*", "small@*/*"],
      }),
    ]);

    for (let i = 0; i < 3; i++) expect((await chat({ agent: "coder" })).runtime).toBe("rt-medium");
    expect((await chat({})).runtime).not.toBe("rt-medium"); // nobody else is pinned there

    const resolved = await call<ResolveResult>(d, "runtime.resolve", { agent: "coder" });
    expect(resolved).toMatchObject({
      chosen: { cell: "medium@cpu/none", runtime: "rt-medium" },
      preferred: { cell: "medium@cpu/none" },
      pin: { scope: "agent:coder", patterns: ["medium@cpu/*", "small@*/*"] },
      fallback: false,
    });
    expect(resolved.ranked.map((r) => r.runtime)).toEqual(["rt-medium", "rt-small", "rt-big"]);

    const r = await d.cli(["resolve", "--agent", "coder", "--model", "small"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Chosen: small@cpu/none (runtime rt-small)");
    expect(r.stdout).toContain(
      "big@cpu/none (runtime rt-big): model_mismatch — serves model big, request asks for small",
    );
    expect(r.stdout).toContain("medium@cpu/none (runtime rt-medium): model_mismatch");

    const none = await d.cli(["resolve", "--model", "nonexistent"]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain("No eligible cell.");
    expect(none.stderr.match(/model_mismatch/g)?.length).toBe(3);

    const bad = await callError(d, "pin.set", { agent: "x", patterns: ["llama@tpu:0/none"] });
    expect(bad.stableCode).toBe("CONFIG_INVALID");
    expect(bad.message).toContain('unknown hardware "tpu:0"');

    const cleared = await d.cli(["pin", "clear", "--agent", "coder"]);
    expect(cleared.stdout).toContain("Pin removed for agent:coder");
    expect(JSON.parse((await d.cli(["--json", "pin", "list"])).stdout)).toEqual([]);
  });

  it("deep chooses the largest model by parameter count", async () => {
    const r = await call<ResolveResult>(d, "runtime.resolve", { mode: "deep" });
    expect(r.chosen).toEqual({ cell: "big@cpu/none", runtime: "rt-big" });
    expect(r.ranked.map((x) => x.runtime)).toEqual(["rt-big", "rt-medium", "rt-small"]);
    expect((await chat({ mode: "deep", max_tokens: 2 })).model).toBe("big");
  });

  it("quick chooses the lowest routed p95, and slo_ms passes over slower cells", async () => {
    for (const m of ["big", "medium", "small"]) await chat({ model: m, max_tokens: 8 });
    const quick = await call<ResolveResult>(d, "runtime.resolve", { mode: "quick" });
    expect(quick.chosen.runtime).toBe("rt-small");
    expect(quick.ranked.map((x) => x.runtime)).toEqual(["rt-small", "rt-medium", "rt-big"]); // 8 tokens: ~4, 160, 320 ms

    const slo = await call<ResolveResult>(d, "runtime.resolve", { slo_ms: 150 });
    const big = slo.passed_over.find((p) => p.runtime === "rt-big");
    expect(big?.why).toBe("over_slo");
    expect(big?.detail).toMatch(/^p95 \d+ ms exceeds the 150 ms SLO$/);
  });

  it("verified answers with two different models and returns both", async () => {
    const r = await chat({ mode: "verified", max_tokens: 3 });
    expect(r.verified).toBeDefined();
    expect(r.verified && "content" in r.verified ? r.verified.model : undefined).not.toBe(r.model);
    expect(r.verified && "content" in r.verified ? r.verified.content.length : 0).toBeGreaterThan(0);
  });
});

describe("quick actions", () => {
  it("refuses a reload to a missing, invalid or oversized model; the old process keeps serving", async () => {
    const before = (await d.status()).runtimes.find((r) => r.id === "rt-medium");
    expect(before?.pid).toBeGreaterThan(0);

    const missing = await d.cli([
      "runtime",
      "reload",
      "--id",
      "rt-medium",
      "--model",
      path.join(dir, "missing.gguf"),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      "does not exist; rt-medium keeps serving medium unchanged [MODEL_MISSING]",
    );

    const junk = path.join(dir, "junk.gguf");
    await fs.writeFile(junk, "this is not a gguf file at all");
    const invalid = await callError(d, "runtime.reload", { id: "rt-medium", model: junk });
    expect(invalid.stableCode).toBe("MODEL_INVALID");

    const huge = path.join(dir, "huge.gguf");
    await writeTinyGguf(huge, {
      context_length: 4096,
      block_count: 100_000,
      embedding_length: 65_536,
      head_count: 64,
    });
    const tooBig = await d.cli(["runtime", "reload", "--id", "rt-medium", "--model", huge]);
    expect(tooBig.code).toBe(3);
    expect(tooBig.stderr).toContain("does not fit cpu");
    expect(tooBig.stderr).toContain("[MODEL_DOES_NOT_FIT]");

    const hw = await d.cli(["runtime", "switch", "--id", "rt-medium", "--hardware", "gpu:7"]);
    expect(hw.code).toBe(1);
    expect(hw.stderr).toContain("[HARDWARE_UNKNOWN]");

    const after = (await d.status()).runtimes.find((r) => r.id === "rt-medium");
    expect(after).toMatchObject({ state: "ready", pid: before?.pid, model: "medium", restarts_total: 0 });
    expect((await chat({ model: "medium" })).runtime).toBe("rt-medium");
  });

  it("reloads on a valid model after checking it, without using the restart budget", async () => {
    const before = (await d.status()).runtimes.find((r) => r.id === "rt-small");
    const r = await d.cli([
      "--json",
      "runtime",
      "reload",
      "--id",
      "rt-small",
      "--model",
      path.join(dir, "other.gguf"),
      "--wait",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as QuickActionResult;
    expect(result).toMatchObject({
      action: "reload",
      previous_model: "small",
      restarted: true,
      outcome: "ready",
    });
    expect(result.fit?.fits).toBe(true);
    const after = (await d.status()).runtimes.find((x) => x.id === "rt-small");
    expect(after?.pid).not.toBe(before?.pid);
    expect(after?.restart_budget.used).toBe(0);
    expect((await chat({ model: "other" })).cell).toBe("other@cpu/none");
  });
});
