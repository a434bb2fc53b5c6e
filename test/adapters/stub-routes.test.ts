import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseLlamaMetrics, parsePrometheus } from "../../adapters/shared/metrics.js";
import { writeTinyGguf } from "../support/gguf-writer.js";
import { get, isAlive, killAllStubs, post, request, type StubProcess, spawnStub } from "./stub-harness.js";

interface ChatAnswer {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { index: number; finish_reason: string; message: { role: string; content: string } }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  timings: Record<string, number>;
}

const TIMING_KEYS = [
  "prompt_n",
  "prompt_ms",
  "prompt_per_token_ms",
  "prompt_per_second",
  "predicted_n",
  "predicted_ms",
  "predicted_per_token_ms",
  "predicted_per_second",
];

function sseEvents(text: string): string[] {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice("data: ".length));
}

async function metricsOf(stub: StubProcess) {
  return parseLlamaMetrics((await get(`${stub.endpoint}/metrics`)).body);
}

describe("a ready stub answers llama-server's routes", () => {
  let stub: StubProcess;
  let modelDir: string;
  let modelPath: string;
  const chat = (body: Record<string, unknown>) => post(`${stub.endpoint}/v1/chat/completions`, body);

  beforeAll(async () => {
    modelDir = await fs.mkdtemp(path.join(os.tmpdir(), "rmx-stub-"));
    modelPath = path.join(modelDir, "tiny.gguf");
    await writeTinyGguf(modelPath, { context_length: 512, embedding_length: 64 });
    stub = await spawnStub(["-m", modelPath, "--metrics", "--slots", "-np", "2", "-c", "256"]).ready();
  });
  afterAll(async () => {
    await killAllStubs();
    await fs.rm(modelDir, { recursive: true, force: true });
  });
  // Every test shares this stub: none may take it down.
  afterEach(() => {
    expect(isAlive(stub.pid)).toBe(true);
  });

  it("logs like llama-server", () => {
    expect(stub.stderr()).toContain(`srv    load_model: loading model '${modelPath}'`);
    expect(stub.stderr()).toMatch(
      /main: server is listening on http:\/\/127\.0\.0\.1:\d+ - starting the main loop/,
    );
    expect(stub.stderr()).toContain("srv  update_slots: all slots are idle");
  });

  it("GET /health is 200 {status: ok}", async () => {
    const answer = await get(`${stub.endpoint}/health`);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ status: "ok" });
  });

  it("POST /v1/chat/completions has the OpenAI shape with usage and timings", async () => {
    const messages = [
      { role: "system", content: "one two three" },
      { role: "user", content: [{ type: "text", text: "four five" }] },
    ];
    const answer = await chat({ messages, max_tokens: 4 });
    expect(answer.status).toBe(200);
    const body = answer.json<ChatAnswer>();
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe("chat.completion");
    expect(body.created).toBeTypeOf("number");
    // b4748 names the model "gpt-3.5-turbo" unless the request does.
    expect(body.model).toBe("gpt-3.5-turbo");
    expect(body.choices).toHaveLength(1);
    expect(body.choices[0]?.message.role).toBe("assistant");
    expect(body.choices[0]?.message.content.split(" ")).toHaveLength(4);
    expect(body.choices[0]?.finish_reason).toBe("length");
    expect(body.usage).toEqual({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
    for (const key of TIMING_KEYS) expect(body.timings[key], key).toBeTypeOf("number");
    expect(body.timings.prompt_n).toBe(5);
    expect(body.timings.predicted_n).toBe(4);
    expect(body.timings.predicted_per_second).toBeGreaterThan(0);

    const again = (await chat({ messages, max_tokens: 4 })).json<ChatAnswer>();
    expect(again.choices[0]?.message.content).toBe(body.choices[0]?.message.content);
  });

  it("generates 16 tokens by default and reports a stop", async () => {
    const body = (await chat({ messages: [{ role: "user", content: "hi" }] })).json<ChatAnswer>();
    expect(body.usage.completion_tokens).toBe(16);
    expect(body.choices[0]?.finish_reason).toBe("stop");
  });

  it("streams SSE chunks with delta.content and ends with [DONE]", async () => {
    const messages = [{ role: "user", content: "stream this please" }];
    const answer = await chat({ messages, max_tokens: 5, stream: true });
    expect(answer.status).toBe(200);
    const events = sseEvents(answer.body);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    for (const chunk of chunks) expect(chunk.object).toBe("chat.completion.chunk");
    // b4748 sends no initial role chunk: the first event already carries content.
    expect(chunks[0].choices[0].delta.role).toBeUndefined();
    const pieces = chunks.slice(0, -1).map((c) => c.choices[0].delta.content);
    expect(pieces).toHaveLength(5);
    const last = chunks.at(-1);
    expect(last.choices[0].finish_reason).toBe("length");
    expect(last.usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    expect(last.timings.predicted_n).toBe(5);
    const whole = (await chat({ messages, max_tokens: 5 })).json<ChatAnswer>();
    expect(pieces.join("")).toBe(whole.choices[0]?.message.content);
  });

  it("POST /completion answers content, token counts, timings and stop", async () => {
    const answer = await post(`${stub.endpoint}/completion`, { prompt: "the quick brown fox", n_predict: 3 });
    expect(answer.status).toBe(200);
    const body = answer.json<Record<string, unknown> & { timings: Record<string, number> }>();
    expect(body.content).toBeTypeOf("string");
    expect((body.content as string).split(" ")).toHaveLength(3);
    expect(body.tokens_predicted).toBe(3);
    expect(body.tokens_evaluated).toBe(4);
    expect(body.stop).toBe(true);
    for (const key of TIMING_KEYS) expect(body.timings[key], key).toBeTypeOf("number");

    const streamed = sseEvents(
      (await post(`${stub.endpoint}/completion`, { prompt: "x", n_predict: 2, stream: true })).body,
    );
    expect(streamed.map((e) => JSON.parse(e).stop)).toEqual([false, false, true]);
  });

  it("GET /v1/models, /props and /slots describe the model and slots", async () => {
    const models = (await get(`${stub.endpoint}/v1/models`)).json<{
      object: string;
      data: Record<string, unknown>[];
    }>();
    expect(models.object).toBe("list");
    expect(models.data[0]).toMatchObject({ id: modelPath, object: "model", owned_by: "llamacpp" });
    // Read from the GGUF like b4748: the trained context, the width, the vocabulary.
    expect(models.data[0]?.meta).toMatchObject({ n_ctx_train: 512, n_embd: 64, n_vocab: 3 });

    const props = (await get(`${stub.endpoint}/props`)).json<Record<string, unknown>>();
    expect(props.total_slots).toBe(2);
    expect(props.model_path).toBe(modelPath);
    expect(props.default_generation_settings).toMatchObject({ n_ctx: 128 });

    const slots = (await get(`${stub.endpoint}/slots`)).json<Record<string, unknown>[]>();
    expect(slots.map((s) => [s.id, s.n_ctx, s.is_processing])).toEqual([
      [0, 128, false],
      [1, 128, false],
    ]);
  });

  it("answers 404 for unknown routes and methods, 500 for bad JSON, and truncates over-long prompts, as b4748", async () => {
    const missing = await get(`${stub.endpoint}/v2/nothing`);
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({
      error: { code: 404, message: "File Not Found", type: "not_found_error" },
    });
    expect((await request(`${stub.endpoint}/health`, {}, "POST")).status).toBe(404);
    expect((await request(`${stub.endpoint}/v1/chat/completions`, "{not json", "POST")).status).toBe(500);
    expect((await chat({ messages: [] })).status).toBe(200);
    expect((await chat({ messages: [{ role: "user", content: "x" }], max_tokens: "many" })).status).toBe(200);
    const tooLong = await post(`${stub.endpoint}/completion`, { prompt: "word ".repeat(200), n_predict: 2 });
    expect(tooLong.status).toBe(200);
    expect(tooLong.json<{ truncated: boolean }>().truncated).toBe(true);
  });

  it("GET /metrics is Prometheus text whose counters grow with each request", async () => {
    const text = (await get(`${stub.endpoint}/metrics`)).body;
    const names = [...parsePrometheus(text).keys()];
    expect(names).toHaveLength(12);
    for (const name of names) {
      expect(name.startsWith("llamacpp:")).toBe(true);
      expect(text).toContain(`# HELP ${name} `);
      expect(text).toMatch(new RegExp(`# TYPE ${name} (counter|gauge)\\n`));
    }
    const before = parseLlamaMetrics(text);
    await chat({ messages: [{ role: "user", content: "count these four" }], max_tokens: 6 });
    const after = await metricsOf(stub);
    expect(after.prompt_tokens_total).toBe((before.prompt_tokens_total ?? 0) + 3);
    expect(after.tokens_predicted_total).toBe((before.tokens_predicted_total ?? 0) + 6);
    expect(after.n_decode_total).toBe((before.n_decode_total ?? 0) + 7);
    expect(after.tokens_predicted_seconds_total).toBeGreaterThan(before.tokens_predicted_seconds_total ?? 0);
    expect(after.prompt_seconds_total).toBeGreaterThan(before.prompt_seconds_total ?? 0);
    expect(after.predicted_tokens_seconds).toBeGreaterThan(0);
    expect(after.kv_cache_tokens).toBeGreaterThan(0);
    expect(after.kv_cache_usage_ratio).toBeGreaterThan(0);
    expect(after.requests_processing).toBe(0);
    expect(after.requests_deferred).toBe(0);
  });
});
