/**
 * The stub's HTTP face, vLLM's OpenAI-compatible routes as documented (docs.vllm.ai "OpenAI-Compatible
 * Server"): `/health` (200, empty body), `/v1/models`, `/v1/completions` and `/v1/chat/completions` (plain or
 * server-sent events ending in `data: [DONE]`), `/metrics`. With an API key (`--api-key` / VLLM_API_KEY) the
 * `/v1` routes want `Authorization: Bearer KEY` and answer 401 `{"error":"Unauthorized"}` without it, as
 * vLLM's AuthenticationMiddleware does; `/health` and `/metrics` stay open.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { readCappedBody } from "../../shared/read-body.js";
import { StubEngine } from "./engine.js";
import type { ServeOptions } from "./options.js";

const MAX_BODY = 8 * 1024 * 1024;
const DEFAULT_MAX_TOKENS = 16;

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    server: "uvicorn",
  });
  res.end(body);
}

const json = (res: http.ServerResponse, status: number, value: unknown) =>
  send(res, status, "application/json", JSON.stringify(value));

/** vLLM's ErrorResponse: `{"error": {message, type, param, code}}`. */
function error(res: http.ServerResponse, status: number, type: string, message: string, param?: string) {
  json(res, status, { error: { message, type, param: param ?? null, code: status } });
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  return (await readCappedBody(req, MAX_BODY, () => new Error("body too large"))).toString("utf8");
}

type Body = Record<string, unknown>;

function promptText(body: Body, chat: boolean): string | undefined {
  if (!chat) return typeof body.prompt === "string" ? body.prompt : undefined;
  if (!Array.isArray(body.messages)) return undefined;
  return body.messages
    .map((m: unknown) => {
      const content = (m as { content?: unknown } | null)?.content;
      return typeof content === "string" ? content : "";
    })
    .join(" ");
}

export class StubServer {
  readonly engine: StubEngine;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly options: ServeOptions & { msPerToken: number }) {
    this.engine = new StubEngine({ msPerToken: options.msPerToken, maxNumSeqs: options.maxNumSeqs });
  }

  private get name(): string {
    return this.options.servedModelNames[0] as string;
  }

  private authorized(req: http.IncomingMessage): boolean {
    return this.options.apiKey === undefined || req.headers.authorization === `Bearer ${this.options.apiKey}`;
  }

  private models(res: http.ServerResponse): void {
    json(res, 200, {
      object: "list",
      data: this.options.servedModelNames.map((id) => ({
        id,
        object: "model",
        created: this.created,
        owned_by: "vllm",
        root: this.options.model,
        parent: null,
        max_model_len: this.options.maxModelLen ?? null,
        permission: [],
      })),
    });
  }

  private async generate(req: http.IncomingMessage, res: http.ServerResponse, chat: boolean): Promise<void> {
    let body: Body;
    try {
      body = JSON.parse(await readBody(req)) as Body;
    } catch {
      return error(res, 400, "BadRequestError", "request body is not valid JSON");
    }
    if (typeof body !== "object" || body === null)
      return error(res, 400, "BadRequestError", "request body is not an object");
    const model = body.model ?? this.name;
    if (typeof model !== "string" || !this.options.servedModelNames.includes(model)) {
      return error(res, 404, "NotFoundError", `The model \`${String(model)}\` does not exist.`, "model");
    }
    const prompt = promptText(body, chat);
    if (prompt === undefined) {
      return error(res, 400, "BadRequestError", chat ? "messages: field required" : "prompt: field required");
    }
    const requested = body.max_tokens ?? body.max_completion_tokens ?? DEFAULT_MAX_TOKENS;
    if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 1) {
      return error(
        res,
        400,
        "BadRequestError",
        `max_tokens must be at least 1, got ${JSON.stringify(requested)}`,
        "max_tokens",
      );
    }
    const promptTokens = StubEngine.countTokens(prompt);
    const id = `${chat ? "chatcmpl" : "cmpl"}-${randomUUID().replace(/-/g, "")}`;
    const created = Math.floor(Date.now() / 1000);
    const object = chat ? "chat.completion" : "text_completion";
    const chunkObject = chat ? "chat.completion.chunk" : "text_completion";
    const usage = (n: number) => ({
      prompt_tokens: promptTokens,
      total_tokens: promptTokens + n,
      completion_tokens: n,
    });
    if (body.stream === true) {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", server: "uvicorn" });
      const write = (value: unknown) => res.write(`data: ${JSON.stringify(value)}\n\n`);
      const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
        write({ id, object: chunkObject, created, model, choices: [{ index: 0, ...choice }], ...extra });
      if (chat) chunk({ delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null });
      const pieces = await this.engine.generate(promptTokens, requested, (piece) =>
        chunk(
          chat
            ? { delta: { content: piece }, logprobs: null, finish_reason: null }
            : { text: piece, logprobs: null, finish_reason: null },
        ),
      );
      chunk(
        chat
          ? { delta: {}, logprobs: null, finish_reason: "length", stop_reason: null }
          : { text: "", logprobs: null, finish_reason: "length", stop_reason: null },
      );
      const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
      if (streamOptions?.include_usage === true)
        write({ id, object: chunkObject, created, model, choices: [], usage: usage(pieces.length) });
      res.end("data: [DONE]\n\n");
      return;
    }
    const pieces = await this.engine.generate(promptTokens, requested);
    const text = pieces.join("");
    const choice = chat
      ? {
          index: 0,
          message: { role: "assistant", content: text, tool_calls: [] },
          logprobs: null,
          finish_reason: "length",
          stop_reason: null,
        }
      : { index: 0, text, logprobs: null, finish_reason: "length", stop_reason: null };
    json(res, 200, { id, object, created, model, choices: [choice], usage: usage(pieces.length) });
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> | void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = `${req.method} ${path}`;
    if (route === "GET /health") return send(res, 200, "application/json", "");
    if (route === "GET /metrics")
      return send(res, 200, "text/plain; version=0.0.4; charset=utf-8", this.engine.metricsText(this.name));
    if (path.startsWith("/v1") && !this.authorized(req)) return json(res, 401, { error: "Unauthorized" });
    if (route === "GET /v1/models") return this.models(res);
    if (route === "POST /v1/completions") return this.generate(req, res, false);
    if (route === "POST /v1/chat/completions") return this.generate(req, res, true);
    return json(res, 404, { detail: "Not Found" });
  }

  listen(): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      Promise.resolve(this.handle(req, res)).catch(() => res.destroy());
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => resolve(server));
    });
  }
}
