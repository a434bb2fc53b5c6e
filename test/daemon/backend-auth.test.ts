/**
 * Keys to backends, with real stubs that enforce `--api-key` / `LLAMA_API_KEY` like b4748
 * (test/fixtures/llama-server-b4748/api-key.json): rmxd hands the key of `api_key_env` to the backend
 * through its environment (never its command line) and sends it as Bearer on probes, scrapes, chat and
 * the gateway; a backend that refuses our key is degraded with that reason and never restarted.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../adapters/shared/http.js";
import type { MatrixResult } from "../../ipc/protocol/matrix.js";
import { type Gateway, startGateway } from "../http/support.js";
import { cellIn } from "../matrix/support.js";
import { call, recordEvents } from "../policy-e2e/support.js";
import { stopAll } from "../support/daemon-harness.js";

const GOOD = "k1-rmx-test-3b9e";
const WRONG = "not-the-key-7c1d";
const HEALTH = "{ interval: 100ms, start_poll_initial: 10ms, start_poll_max: 50ms }";

const CONFIG = `
telemetry: { sample_interval: 200ms }
runtimes:
  - id: keyed
    adapter: llama-stub
    auto_start: true
    args: ["--api-key", "${GOOD}", "--alias", "keyed-model", "--slots"]
    api_key_env: RMX_TEST_BACKEND_KEY
    health: ${HEALTH}
  - id: envkey
    adapter: llama-stub
    auto_start: true
    args: ["--alias", "envkey-model"]
    api_key_env: RMX_TEST_BACKEND_KEY
    health: ${HEALTH}
  - id: wrongkey
    adapter: llama-stub
    auto_start: true
    args: ["--api-key", "${GOOD}", "--alias", "wrong-model", "--slots"]
    api_key_env: RMX_TEST_WRONG_KEY
    health: ${HEALTH}
    restart_budget: { max_restarts: 3, window_seconds: 600 }
`;

let g: Gateway;

beforeAll(async () => {
  g = await startGateway({
    config: CONFIG,
    env: { RMX_TEST_BACKEND_KEY: GOOD, RMX_TEST_WRONG_KEY: WRONG },
    ready: ["keyed", "envkey"],
  });
});

afterAll(stopAll);

async function view(id: string) {
  const rt = (await g.d.status()).runtimes.find((r) => r.id === id);
  if (rt === undefined) throw new Error(`no runtime ${id}`);
  return rt;
}

describe("api_key_env for llama-server runtimes", () => {
  it("the right key: ready, throughput measured, chat and the gateway answer", async () => {
    const rt = await view("keyed");
    expect(rt.state, `${rt.state}: ${rt.reason}`).toBe("ready");
    const events = await recordEvents(g.d, ["runtime.health"]);
    try {
      const measured = await events.waitFor(
        "runtime.health",
        (p) =>
          p.scope === "cell" &&
          p.key === "keyed-model@cpu/none" &&
          (p.throughput as { generated_tokens_per_second?: number }).generated_tokens_per_second !==
            undefined,
        15_000,
      );
      expect((measured.payload as { throughput: { note?: string } }).throughput.note).toBeUndefined();
    } finally {
      await events.close();
    }
    const chat = await call<{ runtime: string; content?: string }>(g.d, "chat.respond", {
      model: "keyed-model",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    expect(chat.runtime).toBe("keyed");
    const answer = await g.openai().chat.completions.create({
      model: "keyed-model",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    expect(answer.choices.length).toBe(1);
    const direct = await httpRequest(`${rt.endpoint}/v1/chat/completions`, {
      body: { messages: [{ role: "user", content: "hi" }], max_tokens: 1 },
      timeoutMs: 5000,
    });
    expect(direct.kind === "response" && direct.status, "the backend does check the key").toBe(401);
  });

  it("the key reaches llama-server through its environment, never its command line", async () => {
    const rt = await view("envkey");
    expect(rt.state, `${rt.state}: ${rt.reason}`).toBe("ready");
    const pid = rt.pid as number;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    expect(cmdline, cmdline).not.toContain(GOOD);
    expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toContain(`LLAMA_API_KEY=${GOOD}`);
    // The stub took the key from LLAMA_API_KEY: without it, a guarded route refuses.
    const open = await httpRequest(`${rt.endpoint}/slots`, { timeoutMs: 5000 });
    expect(open.kind === "response" && open.status).toBe(401);
    const chat = await call<{ runtime: string }>(g.d, "chat.respond", {
      model: "envkey-model",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 2,
    });
    expect(chat.runtime).toBe("envkey");
  });

  it("a wrong key: degraded 'backend refuses our key (401)', never restarted, throughput noted", async () => {
    const degraded = await g.d.waitForState("wrongkey", ["degraded"], 20_000);
    expect(degraded.reason).toBe("backend refuses our key (401)");
    const pid = degraded.pid;
    // Many probe intervals (100 ms) and scrapes (200 ms) later: the same process, no restart spent.
    const events = await recordEvents(g.d, ["runtime.health"]);
    let ticks = 0;
    try {
      await events.waitFor(
        "runtime.health",
        (p) => p.scope === "cell" && p.key === "wrong-model@cpu/none" && ++ticks >= 10,
        30_000,
      );
    } finally {
      await events.close();
    }
    const after = await view("wrongkey");
    const figures = `state ${after.state} (${after.reason}), restarts ${after.restarts_total}, budget ${JSON.stringify(after.restart_budget)}, pid ${pid} → ${after.pid}`;
    expect(after.state, figures).toBe("degraded");
    expect(after.reason, figures).toBe("backend refuses our key (401)");
    expect(after.restarts_total, figures).toBe(0);
    expect(after.restart_budget.used, figures).toBe(0);
    expect(after.pid, figures).toBe(pid);
    const cell = cellIn(await call<MatrixResult>(g.d, "matrix.get", {}), "wrong-model@cpu/none");
    expect(cell.throughput.generated_tokens_per_second).toBeUndefined();
    expect(cell.throughput.note).toBe("no throughput from wrongkey: metrics: backend refuses our key (401)");
    expect(cell.status.detail?.join("\n")).toContain("backend refuses our key (401)");
  });
});
