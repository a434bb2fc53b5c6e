import { stat } from "node:fs/promises";
import http from "node:http";
import { readCappedBody } from "../../shared/read-body.js";
import { readWhisperModel } from "../ggml.js";
import { type ParsedPart, parseMultipart } from "../multipart.js";
import { wavDurationSeconds } from "../wav.js";
import type { StubOptions } from "./options.js";

/** Headers on every whisper-server answer (routes.json), in its order. */
const COMMON = {
  "Access-Control-Allow-Headers": "content-type, authorization",
  "Access-Control-Allow-Origin": "*",
  Connection: "close",
  Server: "whisper.cpp",
};

const INDEX_HTML =
  "\n    <html>\n    <head>\n        <title>Whisper.cpp Server</title>\n    </head>\n    </html>\n";
const MAX_BODY = 64 * 1024 * 1024;

function send(res: http.ServerResponse, status: number, type: string | undefined, body: string): void {
  const headers: Record<string, string | number> = { ...COMMON, "Content-Length": Buffer.byteLength(body) };
  if (type !== undefined) headers["Content-Type"] = type;
  res.writeHead(status, headers);
  res.end(body);
}

const json = (res: http.ServerResponse, value: unknown) =>
  send(res, 200, "application/json", JSON.stringify(value));

const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
  readCappedBody(req, MAX_BODY, () => new Error("body too large"));

function field(parts: ParsedPart[], name: string): ParsedPart | undefined {
  return parts.find((p) => p.name === name);
}

async function inference(req: http.IncomingMessage, res: http.ServerResponse, msPerSecond: number) {
  const body = await readBody(req);
  const type = req.headers["content-type"];
  const multipart = /^multipart\/form-data/i.test(type ?? "");
  const parts = multipart ? parseMultipart(body, type) : [];
  if (parts === undefined) return send(res, 400, "text/plain", "Invalid request");
  const file = field(parts, "file");
  if (file === undefined) return json(res, { error: "no 'file' field in the request" });
  const seconds = wavDurationSeconds(file.data);
  if (seconds === undefined) return json(res, { error: "failed to read audio data" });
  if (msPerSecond > 0) await new Promise((r) => setTimeout(r, msPerSecond * seconds));
  const format = field(parts, "response_format")?.data.toString("utf8") ?? "json";
  switch (format) {
    case "verbose_json":
      return json(res, {
        task: "transcribe",
        language: "english",
        duration: seconds,
        text: "",
        segments: [],
      });
    case "text":
      return send(res, 200, "text/html; charset=utf-8", "");
    case "srt":
      return send(res, 200, "application/x-subrip", "");
    case "vtt":
      return send(res, 200, "text/vtt", "WEBVTT\n\n");
    default:
      return json(res, { text: "" });
  }
}

async function load(req: http.IncomingMessage, res: http.ServerResponse) {
  const body = await readBody(req);
  const parts = parseMultipart(body, req.headers["content-type"]);
  if (parts === undefined) return send(res, 400, "text/plain", "Invalid request");
  const model = field(parts, "model")?.data.toString("utf8");
  if (model === undefined) return json(res, { error: "no 'model' field in the request" });
  const exists = await stat(model).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!exists) return json(res, { error: "model not found!" });
  try {
    await readWhisperModel(model);
  } catch {
    // lifecycle.json `load_invalid_model_file`: the client sees ECONNRESET, the server exits 1.
    process.stderr.write(
      "whisper_model_load: invalid model data (bad magic)\nerror: model init  failed, no model loaded must exit\n",
    );
    req.socket.destroy();
    process.exit(1);
  }
  send(res, 200, "application/text", "Load was successful!");
}

export function serveWhisperStub(options: StubOptions & { msPerAudioSecond: number }): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = `${req.method} ${path}`;
    const task = (async () => {
      if (route === "GET /health") return json(res, { status: "ok" });
      if (route === "GET /") return send(res, 200, "text/html", INDEX_HTML);
      if (route === "OPTIONS /inference") return send(res, 200, undefined, "");
      if (route === "POST /inference") return inference(req, res, options.msPerAudioSecond);
      if (route === "POST /load") return load(req, res);
      await readBody(req).catch(() => undefined);
      return send(res, 404, "text/plain", `File Not Found (${path})`);
    })();
    task.catch(() => res.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
