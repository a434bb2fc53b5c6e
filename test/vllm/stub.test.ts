/**
 * The vllm stub against vLLM's documented behaviour, through the adapter: argparse refusals (exit 2), the
 * port refused while the engine loads then /health 200, the served-name check, chat (plain and streamed) and
 * completions, /metrics counting that traffic, one worker per tensor-parallel rank, SIGTERM → exit 0 with the
 * workers gone.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendChat } from "../../adapters/shared/openai-client.js";
import type { ProbeOutcome } from "../../adapters/types.js";
import { vllmAdapter } from "../../adapters/vllm/adapter.js";
import { pidAlive, tempDir, until } from "../support/daemon-harness.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";
import { freePort, runStub, type StubRun, writeHfDir } from "./vllm-support.js";

let model: string;

beforeAll(async () => {
  model = await writeHfDir(path.join(await tempDir("rmx-vllm-stub-"), "tiny-llama"));
});

/** Pids whose parent is `pid` (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === pid) out.push(Number(name));
  }
  return out;
}

describe("vllm serve argument parsing", () => {
  it.each([
    [["serve", "MODEL", "--no-such-flag"], "unrecognized arguments: --no-such-flag"],
    [["serve", "MODEL", "--port", "abc"], "argument --port: invalid int value: 'abc'"],
    [["serve", "MODEL", "--max-model-len"], "argument --max-model-len: expected one argument"],
    [["serve"], "the following arguments are required: model_tag"],
  ])("%j exits 2 with the usage and the error", async (args, error) => {
    const stub = runStub(args.map((a) => (a === "MODEL" ? model : a)));
    expect(await stub.exited).toEqual({ code: 2, signal: null });
    expect(stub.stderr()).toBe(`usage: vllm serve [model_tag] [options]\nvllm serve: error: ${error}\n`);
  });

  it("a directory without config.json exits 1 naming it", async () => {
    const stub = runStub(["serve", path.dirname(model), "--port", "1"]);
    expect((await stub.exited).code).toBe(1);
    expect(stub.stderr()).toContain("config.json is missing");
  });
});

describe.runIf(process.platform === "linux")("a running vllm stub", () => {
  let stub: StubRun;
  let endpoint: string;
  let spec: ReturnType<typeof defaultRuntimeSpec>;
  const outcomes: ProbeOutcome["kind"][] = [];

  beforeAll(async () => {
    spec = defaultRuntimeSpec("v", { adapter: "vllm", model });
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    const args = [
      "serve",
      model,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--served-model-name",
      "tiny-llama",
      "-tp",
      "2",
    ];
    stub = runStub(args, { VLLM_STUB_LOAD_MS: "1500" });
    await until(
      async () => {
        const outcome = await vllmAdapter.probeHealth(endpoint, spec, 1_000);
        outcomes.push(outcome.kind);
        return outcome.kind === "ok" ? outcome : undefined;
      },
      30_000,
      "the stub to become healthy",
    );
  }, 40_000);
  afterAll(() => {
    if (stub.proc.exitCode === null) stub.proc.kill("SIGKILL");
  });

  it("refuses the port while the engine loads, then /health is 200 and /v1/models lists the served name", () => {
    expect(outcomes[0]).toBe("refused");
    expect(outcomes.at(-1)).toBe("ok");
    expect(new Set(outcomes)).toEqual(new Set(["refused", "ok"]));
  });

  it("runs one worker process per tensor-parallel rank", async () => {
    expect(await childrenOf(stub.proc.pid as number)).toHaveLength(2);
  });

  it("a healthy server that does not serve the runtime's name is wrong_backend, with what it serves", async () => {
    const other = defaultRuntimeSpec("o", { adapter: "vllm", model: "other-model" });
    const outcome = await vllmAdapter.probeHealth(endpoint, other, 1_000);
    expect(outcome).toMatchObject({
      kind: "wrong_backend",
      status: 200,
      served: ["tiny-llama"],
      expected: "other-model",
    });
    expect(outcome.kind !== "ok" && outcome.message).toContain(
      'lists ["tiny-llama"], not "other-model", the --served-model-name rmxd launched vLLM with',
    );
  });

  it("answers chat (plain and streamed) and completions, and /metrics counts exactly that traffic", async () => {
    const before = await vllmAdapter.scrapeMetrics(endpoint, 1_000, spec);
    expect(before).toEqual({
      tokens_predicted_total: 0,
      prompt_tokens_total: 0,
      requests_processing: 0,
      requests_deferred: 0,
      kv_cache_usage_ratio: 0,
    });
    const url = vllmAdapter.chatUrl(endpoint);
    const body = {
      model: "tiny-llama",
      messages: [{ role: "user", content: "one two three" }],
      max_tokens: 4,
    };
    const plain = await backendChat({ url, headers: {}, body, timeoutMs: 5_000 });
    expect(plain).toMatchObject({
      ok: true,
      content: "Hello from the vLLM",
      usage: { prompt_tokens: 3, completion_tokens: 4 },
    });
    const pieces: string[] = [];
    const streamed = await backendChat({
      url,
      headers: {},
      body,
      timeoutMs: 5_000,
      onDelta: (p) => pieces.push(p),
    });
    expect(streamed).toMatchObject({ ok: true, content: "Hello from the vLLM" });
    expect(pieces).toEqual(["Hello", " from", " the", " vLLM"]);
    expect((await vllmAdapter.probeInference(endpoint, spec, 5_000)).kind).toBe("ok"); // prompt "Hi", 1 token
    const wrong = await backendChat({ url, headers: {}, body: { ...body, model: "nope" }, timeoutMs: 5_000 });
    expect(wrong).toMatchObject({ ok: false, status: 404 });
    const after = await vllmAdapter.scrapeMetrics(endpoint, 1_000, spec);
    expect(after).toMatchObject({ tokens_predicted_total: 4 + 4 + 1, prompt_tokens_total: 3 + 3 + 1 });
  });

  it("the probe context's model id is the name checked and sent (over the spec's own model)", async () => {
    const other = defaultRuntimeSpec("o", { adapter: "vllm", model: "other-model" });
    expect((await vllmAdapter.probeHealth(endpoint, other, 1_000, { modelId: "tiny-llama" })).kind).toBe(
      "ok",
    );
    const inference = await vllmAdapter.probeInference(endpoint, other, 2_000, { modelId: "tiny-llama" });
    expect(inference.kind).toBe("ok");
  });

  it("SIGTERM: stops serving, stops its workers, exits 0", async () => {
    const workers = await childrenOf(stub.proc.pid as number);
    stub.proc.kill("SIGTERM");
    expect(await stub.exited).toEqual({ code: 0, signal: null });
    await until(async () => (workers.some(pidAlive) ? undefined : true), 10_000, "the workers to exit");
    expect(workers.filter(pidAlive)).toEqual([]);
    expect(stub.stderr()).toContain("Shutting down FastAPI HTTP server.");
  });
});

describe.runIf(process.platform === "linux")("a vllm stub with an API key", () => {
  it("keeps /health open, refuses /v1 without the bearer key: readiness reports the refused key", async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const stub = runStub(["serve", model, "--host", "127.0.0.1", "--port", String(port)], {
      VLLM_API_KEY: "k-123",
    });
    try {
      const keyless = defaultRuntimeSpec("v", { adapter: "vllm", model });
      const outcome = await until(
        async () => {
          const o = await vllmAdapter.probeHealth(endpoint, keyless, 1_000);
          return o.kind === "refused" ? undefined : o;
        },
        20_000,
        "the stub to listen",
      );
      expect(outcome).toMatchObject({ kind: "auth", status: 401 });
      process.env.RMX_TEST_VLLM_STUB_KEY = "k-123";
      const keyed = defaultRuntimeSpec("v", {
        adapter: "vllm",
        model,
        api_key_env: "RMX_TEST_VLLM_STUB_KEY",
      });
      const withKey = await vllmAdapter.probeHealth(endpoint, keyed, 1_000);
      // The key passes; without --served-model-name vLLM serves the model under its path, not "tiny-llama".
      expect(withKey.kind, JSON.stringify(withKey)).toBe("wrong_backend");
      expect(withKey.kind !== "ok" && withKey.message).toContain(`lists [${JSON.stringify(model)}]`);
      expect(await vllmAdapter.scrapeMetrics(endpoint, 1_000)).toMatchObject({ tokens_predicted_total: 0 });
    } finally {
      delete process.env.RMX_TEST_VLLM_STUB_KEY;
      stub.proc.kill("SIGTERM");
      await stub.exited;
    }
  });
});
