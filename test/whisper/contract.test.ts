/**
 * The whisper-server contract: the same assertions run against the stub always and against a real
 * whisper-server when WHISPER_SERVER_BIN and WHISPER_MODEL_PATH are set. Every expectation is a recorded fact
 * (test/fixtures/whisper-server/routes.json, lifecycle.json, flags.json).
 */
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../adapters/shared/http.js";
import { buildMultipart } from "../../adapters/whisper-cpp/multipart.js";
import { toneWav } from "../../adapters/whisper-cpp/wav.js";
import {
  freePort,
  REAL_SKIP_REASON,
  type Running,
  realTarget,
  run,
  startServer,
  stubTarget,
  type Target,
} from "./whisper-server-harness.js";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/whisper-server");
const routes = JSON.parse(readFileSync(path.join(FIXTURES, "routes.json"), "utf8")).transcripts;
const lifecycle = JSON.parse(readFileSync(path.join(FIXTURES, "lifecycle.json"), "utf8"));
const flags = JSON.parse(readFileSync(path.join(FIXTURES, "flags.json"), "utf8"));

function recorded(name: string) {
  return routes[name].response as {
    status: number;
    content_type: string | null;
    values?: Record<string, unknown>;
    text?: string;
    key_order?: string[];
  };
}

async function post(base: string, route: string, fields: Parameters<typeof buildMultipart>[0]) {
  const form = buildMultipart(fields);
  return httpRequest(`${base}${route}`, {
    method: "POST",
    body: form.body,
    headers: { "content-type": form.contentType },
    timeoutMs: 120_000,
  });
}

function contract(target: Target) {
  let dir: string;
  let model: string;
  let server: Running & { outcomes: string[] };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "rmx-whisper-"));
    model = await target.model(dir);
    server = await startServer(target, model);
  });
  afterAll(() => {
    server?.proc.kill("SIGKILL");
  });

  it("binds only after loading: refused, then /health 200 {status: ok}, never 503", async () => {
    expect(lifecycle.startup.first503).toBeNull();
    expect(server.outcomes).not.toContain("503");
    expect(server.outcomes.at(-1)).toBe("200");
    const health = await httpRequest(`${server.base}/health`, { timeoutMs: 5000 });
    expect(health.kind === "response" && JSON.parse(health.body)).toEqual(recorded("GET /health").values);
  });

  it("answers unknown routes 404 text/plain File Not Found (path), /metrics and OpenAI routes included", async () => {
    for (const name of [
      "GET /metrics",
      "GET /v1/models",
      "GET /no-such-route",
      "GET /inference (wrong method)",
    ]) {
      const rec = routes[name];
      const res = await httpRequest(`${server.base}${rec.request.path}`, { timeoutMs: 5000 });
      expect(res.kind === "response" && [res.status, res.body]).toEqual([
        rec.response.status,
        rec.response.text,
      ]);
    }
  });

  it("reports request errors as 200 {error} and a bad multipart as 400 Invalid request", async () => {
    const json = await httpRequest(`${server.base}/inference`, {
      method: "POST",
      body: { file: "x" },
      timeoutMs: 5000,
    });
    expect(json.kind === "response" && [json.status, JSON.parse(json.body)]).toEqual([
      200,
      recorded("POST /inference JSON body").values,
    ]);
    const noFile = await post(server.base, "/inference", [{ name: "response_format", value: "json" }]);
    expect(noFile.kind === "response" && JSON.parse(noFile.body)).toEqual(
      recorded("POST /inference without file field").values,
    );
    const notAudio = await post(server.base, "/inference", [
      { name: "file", filename: "x.wav", data: Buffer.from("not audio at all") },
    ]);
    expect(notAudio.kind === "response" && [notAudio.status, JSON.parse(notAudio.body)]).toEqual([
      200,
      recorded("POST /inference file not audio").values,
    ]);
    const rec = routes["POST /inference bad multipart (boundary mismatch)"];
    const bad = await httpRequest(`${server.base}/inference`, {
      method: "POST",
      body: rec.request.body,
      headers: { "content-type": rec.request.headers["Content-Type"] },
      timeoutMs: 5000,
    });
    expect(bad.kind === "response" && [bad.status, bad.body]).toEqual([400, "Invalid request"]);
  });

  it("transcribes a WAV in json, verbose_json (recorded keys) and vtt", async () => {
    const wav = toneWav(1);
    const asJson = await post(server.base, "/inference", [
      { name: "file", filename: "tone.wav", data: wav },
      { name: "response_format", value: "json" },
    ]);
    expect(asJson.kind === "response" && typeof JSON.parse(asJson.body).text).toBe("string");
    const verbose = await post(server.base, "/inference", [
      { name: "file", filename: "tone.wav", data: wav },
      { name: "response_format", value: "verbose_json" },
    ]);
    expect(verbose.kind === "response" && Object.keys(JSON.parse(verbose.body))).toEqual(
      recorded("POST /inference verbose_json").key_order,
    );
    const vtt = await post(server.base, "/inference", [
      { name: "file", filename: "tone.wav", data: wav },
      { name: "response_format", value: "vtt" },
    ]);
    expect(vtt.kind === "response" && vtt.body.startsWith("WEBVTT")).toBe(true);
  }, 180_000);

  it("/load: no model field and a missing path are 200 {error}", async () => {
    const none = await post(server.base, "/load", [{ name: "x", value: "y" }]);
    expect(none.kind === "response" && JSON.parse(none.body)).toEqual(
      recorded("POST /load without model field").values,
    );
    const missing = await post(server.base, "/load", [{ name: "model", value: path.join(dir, "nope.bin") }]);
    expect(missing.kind === "response" && JSON.parse(missing.body)).toEqual(
      recorded("POST /load nonexistent model").values,
    );
  });

  it("exits 0 on an unknown flag and 3 on a missing model", async () => {
    const unknown = run(target, ["--no-such-flag"]);
    expect(await unknown.exited).toEqual({ code: flags.unknown_flag.exit_code, signal: null });
    expect(unknown.stderr()).toContain("error: unknown argument: --no-such-flag");
    const port = await freePort();
    const missing = run(target, [
      "-m",
      path.join(dir, "absent.bin"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ]);
    expect(await missing.exited).toEqual({ code: flags.missing_model.exit_code, signal: null });
    expect(missing.stderr()).toContain("failed to initialize whisper context");
  }, 60_000);

  it("dies by SIGTERM (no handler), and exits 1 after /load of a file that is not a model", async () => {
    const a = await startServer(target, model);
    a.proc.kill("SIGTERM");
    expect(await a.exited).toEqual({ code: null, signal: lifecycle.sigterm_idle.exit_signal });
    const b = await startServer(target, model);
    const junk = path.join(dir, "junk.bin");
    await writeFile(junk, "this is not a model");
    const answer = await post(b.base, "/load", [{ name: "model", value: junk }]);
    expect(answer.kind).not.toBe("response");
    expect(await b.exited).toEqual({
      code: lifecycle.load_invalid_model_file.process.exit_code,
      signal: null,
    });
  }, 60_000);
}

describe("whisper-server contract: stub", () => contract(stubTarget));
describe.skipIf(realTarget === undefined)(
  `whisper-server contract: ${realTarget ? "real" : REAL_SKIP_REASON}`,
  () => {
    if (realTarget !== undefined) contract(realTarget);
  },
);
