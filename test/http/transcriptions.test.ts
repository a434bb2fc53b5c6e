/**
 * POST /v1/audio/transcriptions on a real rmxd: a whisper.cpp runtime (the whisper stub as its binary,
 * stopped until asked) and a llama-stub chat runtime. The real `openai` client's
 * `audio.transcriptions.create` gets the stub's recorded transcript and starts the stopped runtime on
 * demand; raw HTTP checks each refusal: no boundary, missing file or model, a field or the upload too large,
 * a truncated body, an unsupported response_format, a chat model, an unknown model, the token and Host.
 */
import fs from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_HEADER, writeWhisperHeader } from "../../adapters/whisper-cpp/ggml.js";
import { buildMultipart, type FormField } from "../../adapters/whisper-cpp/multipart.js";
import { toneWav } from "../../adapters/whisper-cpp/wav.js";
import type { GatewaySeriesView } from "../../ipc/protocol/gateway.js";
import { call } from "../policy-e2e/support.js";
import { stopAll, tempDir } from "../support/daemon-harness.js";
import { WHISPER_STUB } from "../whisper/whisper-server-harness.js";
import { type Gateway, type RawAnswer, raw, startGateway } from "./support.js";

/** http.max_upload here: a 1 s tone (32 KB) fits, a 5 s one (160 KB) does not. */
const MAX_UPLOAD = 128 * 1024;
const ROUTE = "/v1/audio/transcriptions";

let dir: string;
let g: Gateway;

beforeAll(async () => {
  dir = await tempDir("rmx-http-asr-");
  const model = path.join(dir, "ggml-tiny.bin");
  await fs.writeFile(model, writeWhisperHeader(TINY_HEADER));
  g = await startGateway({
    config: `
http: { max_upload: ${MAX_UPLOAD / 1024}KB }
runtimes:
  - id: asr
    adapter: whisper.cpp
    binary: ${WHISPER_STUB}
    model: ${model}
    threads: 1
    auto_start: false
  - { id: chat, adapter: llama-stub, args: ["--alias", "chat"], auto_start: true }
`,
    dir,
    ready: ["chat"],
  });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

/** One raw POST to the route with the token. */
function post(opts: {
  headers?: Record<string, string>;
  body?: Buffer;
  chunks?: Buffer[];
}): Promise<RawAnswer> {
  return raw(g.listen, {
    method: "POST",
    path: ROUTE,
    headers: { authorization: `Bearer ${g.token}`, ...opts.headers },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.chunks !== undefined ? { chunks: opts.chunks } : {}),
  });
}

function form(fields: FormField[]) {
  const f = buildMultipart(fields);
  return { headers: { "content-type": f.contentType }, body: f.body };
}

const wav = (seconds = 1): FormField => ({ name: "file", filename: "tone.wav", data: toneWav(seconds) });
const errorOf = (a: RawAnswer) =>
  (JSON.parse(a.body) as { error: { code: string; message: string; param: string | null } }).error;

describe("transcriptions through the real openai client", () => {
  it("starts the stopped whisper runtime on demand and answers the stub's transcript, naming the cell", async () => {
    expect((await g.d.status()).runtimes.find((r) => r.id === "asr")?.state).toBe("stopped");
    const { data, response } = await g
      .openai()
      .audio.transcriptions.create({ file: await toFile(toneWav(1), "tone.wav"), model: "asr" })
      .withResponse();
    // The stub's recorded answer for a tone: no speech, `{"text": ""}`.
    expect(data).toEqual({ text: "" });
    expect(response.headers.get("x-rmx-cell")).toMatch(/@cpu\/none$/);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect((await g.d.status()).runtimes.find((r) => r.id === "asr")?.state).toBe("ready");
  }, 60_000);

  it("answers text, vtt and verbose_json as whisper-server gives them", async () => {
    const client = g.openai();
    const file = async () => toFile(toneWav(1), "tone.wav");
    const text = await client.audio.transcriptions.create({
      file: await file(),
      model: "asr",
      response_format: "text",
    });
    expect(text).toBe("");
    const vtt = await client.audio.transcriptions.create({
      file: await file(),
      model: "asr",
      response_format: "vtt",
    });
    expect(vtt).toBe("WEBVTT\n\n");
    const verbose = await client.audio.transcriptions.create({
      file: await file(),
      model: "asr",
      response_format: "verbose_json",
      language: "en",
      prompt: "a tone",
      temperature: 0,
    });
    expect(verbose).toMatchObject({ task: "transcribe", duration: 1, text: "" });
  }, 60_000);

  it("counts the requests in the gateway's telemetry under the route and the cell", async () => {
    const status = await call<{
      node: { http: { gateway?: { requests: GatewaySeriesView[] } } };
    }>(g.d, "runtime.status");
    const served = (status.node.http.gateway?.requests ?? []).filter(
      (r) => r.route === ROUTE && r.cell !== "",
    );
    expect(served.reduce((n, r) => n + r.total - r.errors, 0)).toBeGreaterThanOrEqual(4);
  });
});

describe("transcription refusals over raw HTTP", () => {
  it("400 missing_boundary: not multipart, or multipart without a boundary", async () => {
    const json = await post({ headers: { "content-type": "application/json" }, body: Buffer.from("{}") });
    expect(json.status).toBe(400);
    expect(errorOf(json)).toMatchObject({ code: "missing_boundary" });
    expect(errorOf(json).message).toContain('"application/json"');
    const bare = await post({ headers: { "content-type": "multipart/form-data" }, body: Buffer.from("x") });
    expect(bare.status).toBe(400);
    expect(errorOf(bare).message).toContain("no boundary parameter");
  });

  it("400 missing_file and missing_model, naming the field", async () => {
    const noFile = await post(form([{ name: "model", value: "asr" }]));
    expect(noFile.status).toBe(400);
    expect(errorOf(noFile)).toMatchObject({ code: "missing_file", param: "file" });
    const textFile = await post(
      form([
        { name: "file", value: "not a file part" },
        { name: "model", value: "asr" },
      ]),
    );
    expect(errorOf(textFile)).toMatchObject({ code: "missing_file", param: "file" });
    const noModel = await post(form([wav()]));
    expect(noModel.status).toBe(400);
    expect(errorOf(noModel)).toMatchObject({ code: "missing_model", param: "model" });
  });

  it("400 field_too_large for a text field over 64 KiB; 413 for an upload over http.max_upload", async () => {
    const big = await post(
      form([
        { name: "model", value: "asr" },
        { name: "prompt", value: "x".repeat(70 * 1024) },
      ]),
    );
    expect(big.status).toBe(400);
    expect(errorOf(big)).toMatchObject({ code: "field_too_large", param: "prompt" });
    expect(errorOf(big).message).toContain("65536 bytes");
    // Declared too large: refused from Content-Length, before the body is read.
    const declared = await post(form([wav(5), { name: "model", value: "asr" }]));
    expect(declared.status).toBe(413);
    expect(errorOf(declared).message).toMatch(/more than 131072 bytes \(http\.max_upload\)/);
    // Streamed without a length: refused while it arrives, once it crosses the cap.
    const f = form([wav(5), { name: "model", value: "asr" }]);
    const chunks = [f.body.subarray(0, 100_000), f.body.subarray(100_000)];
    const streamed = await post({ headers: f.headers, chunks });
    expect(streamed.status).toBe(413);
    expect(errorOf(streamed)).toMatchObject({ code: "upload_too_large" });
  });

  it("400 truncated_body when the body ends before its closing boundary", async () => {
    const f = form([{ name: "model", value: "asr" }, wav()]);
    const cut = f.body.subarray(0, f.body.length - 100);
    const r = await post({ headers: f.headers, chunks: [cut] });
    expect(r.status).toBe(400);
    expect(errorOf(r)).toMatchObject({ code: "truncated_body" });
    expect(errorOf(r).message).toContain('in part "file"');
  });

  it("400 invalid_response_format naming the value; 400 for a bad temperature", async () => {
    const r = await post(
      form([wav(), { name: "model", value: "asr" }, { name: "response_format", value: "xml" }]),
    );
    expect(r.status).toBe(400);
    expect(errorOf(r)).toMatchObject({ code: "invalid_response_format", param: "response_format" });
    expect(errorOf(r).message).toContain("'xml'");
    expect(errorOf(r).message).toContain("json, verbose_json, text, srt, vtt");
    const t = await post(form([wav(), { name: "model", value: "asr" }, { name: "temperature", value: "7" }]));
    expect(errorOf(t)).toMatchObject({ code: "invalid_temperature", param: "temperature" });
  });

  it("400 model_cannot_transcribe for a chat model; 404 model_not_found for an unknown one", async () => {
    const chat = await post(form([wav(), { name: "model", value: "chat" }]));
    expect(chat.status).toBe(400);
    expect(errorOf(chat)).toMatchObject({ code: "model_cannot_transcribe", param: "model" });
    expect(errorOf(chat).message).toMatch(/'chat' cannot transcribe \(its cells offer .*chat/);
    const unknown = await post(form([wav(), { name: "model", value: "nope" }]));
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown)).toMatchObject({ code: "model_not_found", param: "model" });
  });

  it("needs the token and a local Host, like every gateway route; GET is 405", async () => {
    const f = form([wav(), { name: "model", value: "asr" }]);
    const noToken = await post({ headers: { ...f.headers, authorization: "" }, body: f.body });
    expect(noToken.status).toBe(401);
    const foreign = await post({ headers: { ...f.headers, host: "evil.example" }, body: f.body });
    expect(foreign.status).toBe(403);
    expect(errorOf(foreign).code).toBe("host_not_allowed");
    const get = await new Promise<number>((resolve, reject) => {
      const colon = g.listen.lastIndexOf(":");
      http
        .get(
          {
            host: g.listen.slice(0, colon),
            port: Number(g.listen.slice(colon + 1)),
            path: ROUTE,
            headers: { authorization: `Bearer ${g.token}` },
            agent: false,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on("error", reject);
    });
    expect(get).toBe(405);
  });
});
