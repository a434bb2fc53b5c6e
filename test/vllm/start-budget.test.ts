/**
 * vLLM's start-up budget: a vLLM runtime gets its adapter's start timeout (15 minutes) unless it sets its
 * own, so a load longer than a llama-server runtime is allowed (its `health.start_timeout` here, 1 s, stands
 * in for the built-in 120 s) is neither killed as a hung start nor counted as a crash. The gateway's on-demand
 * wait stays at its own bound (`http.start_timeout`, 1 s here): it answers 503 with Retry-After while the
 * runtime goes on loading, and a retry once it is ready is answered.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, raw, startGateway } from "../http/support.js";
import { stopAll, tempDir } from "../support/daemon-harness.js";
import { record } from "../support/recorder.js";
import { VLLM_STUB, writeHfDir } from "./vllm-support.js";

/** Longer than the llama runtime's start timeout and the gateway's wait; far shorter than vLLM's 15 min. */
const LOAD_MS = 2500;
let g: Gateway;

beforeAll(async () => {
  const model = await writeHfDir(path.join(await tempDir("rmx-vllm-budget-"), "tiny-llama"));
  g = await startGateway({
    config: `
http: { start_timeout: 1s }
runtimes:
  - id: slow
    adapter: vllm
    binary: ${VLLM_STUB}
    model: ${model}
    auto_start: false
    stop: { grace: 2s }
    env: { VLLM_STUB_LOAD_MS: "${LOAD_MS}" }
  - id: quick
    adapter: llama-stub
    args: ["--alias", "quick", "--stub-load-ms", "${LOAD_MS}"]
    auto_start: false
    health: { start_timeout: 1s }
    restart_budget: { max_restarts: 0 }
`,
  });
}, 60_000);
afterAll(async () => {
  await stopAll();
});

function chat(): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return raw(g.listen, {
    method: "POST",
    path: "/v1/chat/completions",
    headers: { authorization: `Bearer ${g.token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny-llama", messages: [{ role: "user", content: "hi" }], max_tokens: 3 }),
  });
}

describe.runIf(process.platform === "linux")("a vLLM that loads for longer than llama's start budget", () => {
  it("the gateway answers 503 + Retry-After at http.start_timeout; the runtime loads on, 0 restarts", async () => {
    const ev = await record(g.d, ["runtime.*"]);
    const first = await chat();
    expect(first.status, first.body).toBe(503);
    expect(first.headers["retry-after"]).toBe("5");
    expect(first.body).toContain("http.start_timeout 1000 ms");
    expect((await g.d.status()).runtimes.find((r) => r.id === "slow")?.state).toBe("starting");

    const ready = await g.d.waitForState("slow", ["ready"], 30_000);
    expect(ready.restarts_total).toBe(0);
    expect(ready.restart_budget.used).toBe(0);
    const path = ev.all("runtime.state.changed", "slow").map((e) => e.payload.to);
    expect(path).toEqual(["starting", "ready"]);
    await ev.close();

    const second = await chat();
    expect(second.status, second.body).toBe(200);
    expect(JSON.parse(second.body).choices[0].message.content).toBe("Hello from the");
  });

  it("the same load under a llama runtime's start timeout is killed as a hung start (the contrast)", async () => {
    const ev = await record(g.d, ["runtime.*"]);
    await (await g.d.client()).call("runtime.start", { id: "quick" });
    const killed = await ev.next(
      "runtime.state.changed",
      (p) => p.id === "quick" && /not healthy within/.test(p.reason ?? ""),
    );
    expect(killed.payload.reason).toMatch(/^not healthy within 1 s of start/);
    await ev.close();
  });
});
