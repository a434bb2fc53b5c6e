/**
 * Routing never sends a request to a cell that cannot serve it, end to end through a real rmxd, its gateway
 * and its socket: a llama-stub chat cell, a whisper.cpp cell (the whisper stub) and an onnxruntime cell
 * (rmxd's own ONNX server with a tiny MatMul graph). Every pairing that must be refused is, and each answer
 * names the model and the capability it lacks: OpenAI's error shape (or KServe's for infer) on HTTP,
 * NO_ELIGIBLE_CELL on the socket. The cells' `capabilities` in `matrix.get` say the same.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import { buildMultipart } from "../../adapters/whisper-cpp/multipart.js";
import { toneWav } from "../../adapters/whisper-cpp/wav.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import { matmulModel } from "../onnx/onnx-writer.js";
import { modelFile } from "../onnx/server-harness.js";
import { callError } from "../policy-e2e/support.js";
import { stopAll, tempDir } from "../support/daemon-harness.js";
import { WHISPER_STUB } from "../whisper/whisper-server-harness.js";
import { type Gateway, startGateway } from "./support.js";

let dir: string;
let g: Gateway;
const X = { name: "X", shape: [2, 2], datatype: "FP32", data: [1, 1, 2, 0] };

beforeAll(async () => {
  dir = await tempDir("rmx-http-caps-");
  const whisper = path.join(dir, "ggml-tiny.bin");
  await fs.writeFile(whisper, writeWhisperHeader(TINY_HEADER));
  const onnx = await modelFile("matmul.onnx", matmulModel());
  g = await startGateway({
    config: `
runtimes:
  - { id: chat, adapter: llama-stub, args: ["--alias", "chat"], auto_start: true }
  - id: asr
    adapter: whisper.cpp
    binary: ${WHISPER_STUB}
    model: ${whisper}
    threads: 1
    auto_start: true
  - { id: vision, adapter: onnxruntime, model: ${onnx}, auto_start: true }
`,
    dir,
    ready: ["chat", "asr", "vision"],
  });
}, 90_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

async function post(route: string, body: string | Buffer, contentType = "application/json") {
  const res = await fetch(`${g.baseURL.replace(/\/v1$/, "")}${route}`, {
    method: "POST",
    headers: { "content-type": contentType, authorization: `Bearer ${g.token}` },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const chatBody = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });
const OPENAI_ROUTES = [
  { route: "/v1/chat/completions", capability: "chat", body: chatBody },
  {
    route: "/v1/completions",
    capability: "completion",
    body: (model: string) => JSON.stringify({ model, prompt: "hi" }),
  },
  {
    route: "/v1/embeddings",
    capability: "embeddings",
    body: (model: string) => JSON.stringify({ model, input: "hi" }),
  },
] as const;
const WHISPER = "ggml-tiny.bin";

describe("capabilities in the matrix", () => {
  it("each serving cell says what it can serve", async () => {
    const client = await g.d.client();
    try {
      const { cells } = (await client.call("matrix.get", {})) as { cells: MatrixCell[] };
      const caps = Object.fromEntries(
        cells.filter((c) => c.runtimes.length > 0).map((c) => [c.key, c.capabilities]),
      );
      expect(caps).toEqual({
        "chat@cpu/none": ["chat", "completion", "embeddings"],
        [`${WHISPER}@cpu/none`]: ["transcription"],
        "matmul@cpu/none": ["infer"],
      });
    } finally {
      await client.close();
    }
  });
});

describe("routing refuses every request a cell cannot serve", () => {
  it.each([WHISPER, "matmul"])(
    "chat, completions and embeddings to %s: 400 model_lacks_capability in OpenAI's shape",
    async (model) => {
      for (const { route, capability, body } of OPENAI_ROUTES) {
        const answer = await post(route, body(model));
        expect(answer.status, route).toBe(400);
        const error = answer.json.error as Record<string, unknown>;
        expect(Object.keys(error).sort(), route).toEqual(["code", "message", "param", "type"]);
        expect(error).toMatchObject({
          type: "invalid_request_error",
          code: "model_lacks_capability",
          param: "model",
        });
        expect(error.message, route).toContain(`the model '${model}' cannot serve ${capability}`);
        // …and which model would.
        expect(error.message, route).toMatch(new RegExp(`models that serve ${capability}: chat$`));
      }
    },
  );

  it.each([WHISPER, "matmul"])(
    "chat.respond to %s on the socket: NO_ELIGIBLE_CELL, needs chat",
    async (model) => {
      const error = await callError(g.d, "chat.respond", {
        model,
        messages: [{ role: "user", content: "hi" }],
      });
      expect(error.stableCode).toBe("NO_ELIGIBLE_CELL");
      expect(error.message).toContain(`model ${model}`);
      expect(error.message).toMatch(
        new RegExp(`${model.replace(".", "\\.")}@cpu/none .*missing_capability \\(needs chat;`),
      );
    },
  );

  it("transcription to the llama cell: 400 model_cannot_transcribe on HTTP, NO_ELIGIBLE_CELL on the socket", async () => {
    const form = buildMultipart([
      { name: "model", value: "chat" },
      { name: "file", filename: "a.wav", data: toneWav(1) },
    ]);
    const answer = await post("/v1/audio/transcriptions", form.body, form.contentType);
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatchObject({
      code: "model_cannot_transcribe",
      param: "model",
      type: "invalid_request_error",
    });
    expect((answer.json.error as { message: string }).message).toMatch(/^the model 'chat' cannot transcribe/);
    const error = await callError(g.d, "transcribe.respond", {
      model: "chat",
      audio_base64: toneWav(1).toString("base64"),
      response_format: "json",
    });
    expect(error.stableCode).toBe("NO_ELIGIBLE_CELL");
    expect(error.message).toContain("model chat");
    expect(error.message).toMatch(/chat@cpu\/none .*missing_capability \(needs transcription;/);
  });

  it("infer to the llama cell: 404 in KServe's shape on HTTP, NO_ELIGIBLE_CELL on the socket", async () => {
    const answer = await post("/v2/models/chat/infer", JSON.stringify({ inputs: [X] }));
    expect(answer.status).toBe(404);
    expect(Object.keys(answer.json)).toEqual(["error"]);
    expect(answer.json.error).toMatch(/model chat.*chat@cpu\/none .*missing_capability \(needs infer;/);
    const error = await callError(g.d, "infer.respond", { model: "chat", inputs: [X] });
    expect(error.stableCode).toBe("NO_ELIGIBLE_CELL");
    expect(error.message).toMatch(/model chat.*chat@cpu\/none .*missing_capability \(needs infer;/);
  });

  it("and serves what each cell can (the controls)", async () => {
    expect((await post("/v1/chat/completions", chatBody("chat"))).status).toBe(200);
    expect((await post("/v2/models/matmul/infer", JSON.stringify({ inputs: [X] }))).status).toBe(200);
    const form = buildMultipart([
      { name: "model", value: WHISPER },
      { name: "file", filename: "a.wav", data: toneWav(1) },
    ]);
    expect((await post("/v1/audio/transcriptions", form.body, form.contentType)).status).toBe(200);
  });
});
