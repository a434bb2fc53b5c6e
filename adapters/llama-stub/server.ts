import http from "node:http";
import { ContextExceeded, type GenerationResult, type InferenceEngine, RequestAborted } from "./engine.js";
import type { StubOptions } from "./options.js";
import { countWords } from "./tokens.js";

/** What the process-level faults flip while the server runs. */
export interface StubState {
  ready: boolean;
  hung: boolean;
  successfulInferences: number;
}

const DEFAULT_N_PREDICT = 16;
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const BUILD_INFO = "b0000-llama-stub";

type Json = Record<string, unknown>;

class BadRequest extends Error {}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { error: { code: status, message, type } });
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadRequest(`request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function readJsonObject(req: http.IncomingMessage): Promise<Json> {
  const text = await readBody(req);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest("Invalid JSON in request body");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequest("request body must be a JSON object");
  }
  return value as Json;
}

/** Text of an OpenAI message content: a string, or an array of `{type: "text", text}` parts. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === "string" ? part : typeof part?.text === "string" ? part.text : ""))
      .join(" ");
  }
  return "";
}

/** The first of `fields` present; -1 (llama's "until EOS") and absence give the default with a `stop` finish. */
function requestedTokens(body: Json, fields: string[]): { maxTokens: number; stopAtEos: boolean } {
  for (const field of fields) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new BadRequest(`'${field}' must be an integer`);
    }
    return value < 0
      ? { maxTokens: DEFAULT_N_PREDICT, stopAtEos: true }
      : { maxTokens: value, stopAtEos: false };
  }
  return { maxTokens: DEFAULT_N_PREDICT, stopAtEos: true };
}

function randomId(prefix: string): string {
  let id = prefix;
  while (id.length < prefix.length + 32) id += Math.random().toString(36).slice(2);
  return id.slice(0, prefix.length + 32);
}

function sseWrite(res: http.ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

function startSse(res: http.ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
}

function modelName(options: StubOptions): string {
  return options.alias ?? options.model ?? "llama-stub";
}

/** llama-server's HTTP API over the stub's engine. */
export function createStubServer(
  options: StubOptions,
  engine: InferenceEngine,
  state: StubState,
  modelSizeBytes: () => number,
): http.Server {
  const model = modelName(options);

  const slotJson = (slot: InferenceEngine["slots"][number]) => ({
    id: slot.id,
    id_task: slot.idTask,
    n_ctx: slot.nCtx,
    speculative: false,
    is_processing: slot.isProcessing,
    params: { n_predict: -1, temperature: 0.8, top_k: 40, top_p: 0.95, stream: false },
    prompt: "",
    next_token: {
      has_next_token: slot.isProcessing,
      has_new_line: false,
      n_remain: slot.nRemain,
      n_decoded: slot.nDecoded,
      stopping_word: "",
    },
  });

  const failingInference = () =>
    options.failInference ||
    (options.failInferenceAfter !== undefined && state.successfulInferences >= options.failInferenceAfter);

  /** Runs one generation and answers errors the way llama-server does; undefined when already answered. */
  async function run(
    res: http.ServerResponse,
    prompt: string,
    promptTokens: number,
    tokens: { maxTokens: number; stopAtEos: boolean },
    hooks: Parameters<InferenceEngine["generate"]>[1],
  ): Promise<GenerationResult | undefined> {
    if (failingInference()) {
      sendError(res, 500, "server_error", "llama-stub: inference failure injected (--stub-fail-inference)");
      return undefined;
    }
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const result = await engine.generate({ prompt, promptTokens, ...tokens }, hooks, abort.signal);
      if (!result.aborted) state.successfulInferences++;
      return result.aborted ? undefined : result;
    } catch (err) {
      if (err instanceof ContextExceeded) {
        sendError(res, 400, "exceed_context_size_error", err.message);
        return undefined;
      }
      if (err instanceof RequestAborted) return undefined;
      throw err;
    }
  }

  async function chatCompletions(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new BadRequest("'messages' is required and must be a non-empty array");
    }
    const prompt = messages.map((m: { content?: unknown } | null) => contentText(m?.content)).join("\n");
    const promptTokens = Math.max(1, countWords(prompt));
    const tokens = requestedTokens(body, ["max_completion_tokens", "max_tokens", "n_predict"]);
    const id = randomId("chatcmpl-");
    const created = Math.floor(Date.now() / 1000);
    const name = typeof body.model === "string" ? body.model : model;
    const envelope = (object: string) => ({
      created,
      id,
      model: name,
      system_fingerprint: BUILD_INFO,
      object,
    });
    const usage = (r: GenerationResult) => ({
      completion_tokens: r.predictedTokens,
      prompt_tokens: r.promptTokens,
      total_tokens: r.predictedTokens + r.promptTokens,
    });

    if (body.stream === true) {
      const result = await run(res, prompt, promptTokens, tokens, {
        onStart: () => {
          startSse(res);
          sseWrite(res, {
            choices: [{ finish_reason: null, index: 0, delta: { role: "assistant", content: null } }],
            ...envelope("chat.completion.chunk"),
          });
        },
        onPiece: (piece) =>
          sseWrite(res, {
            choices: [{ finish_reason: null, index: 0, delta: { content: piece } }],
            ...envelope("chat.completion.chunk"),
          }),
      });
      if (result === undefined) return;
      sseWrite(res, {
        choices: [{ finish_reason: result.finishReason, index: 0, delta: {} }],
        ...envelope("chat.completion.chunk"),
        usage: usage(result),
        timings: result.timings,
      });
      sseWrite(res, "[DONE]");
      res.end();
      return;
    }

    const result = await run(res, prompt, promptTokens, tokens, {});
    if (result === undefined) return;
    sendJson(res, 200, {
      choices: [
        {
          finish_reason: result.finishReason,
          index: 0,
          message: { role: "assistant", content: result.content },
        },
      ],
      ...envelope("chat.completion"),
      usage: usage(result),
      timings: result.timings,
    });
  }

  async function completion(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const rawPrompt = body.prompt;
    let prompt: string;
    let promptTokens: number;
    if (typeof rawPrompt === "string") {
      prompt = rawPrompt;
      promptTokens = countWords(rawPrompt);
    } else if (Array.isArray(rawPrompt)) {
      prompt = rawPrompt.join(" ");
      promptTokens = rawPrompt.every((t) => typeof t === "number") ? rawPrompt.length : countWords(prompt);
    } else {
      throw new BadRequest("'prompt' is required");
    }
    promptTokens = Math.max(1, promptTokens);
    const tokens = requestedTokens(body, ["n_predict", "max_tokens"]);
    const final = (r: GenerationResult, content: string) => ({
      index: 0,
      content,
      tokens: [],
      id_slot: r.slotId,
      stop: true,
      model,
      tokens_predicted: r.predictedTokens,
      tokens_evaluated: r.promptTokens,
      generation_settings: { n_predict: tokens.maxTokens, stream: body.stream === true },
      prompt,
      has_new_line: false,
      truncated: false,
      stop_type: r.finishReason === "stop" ? "eos" : "limit",
      stopping_word: "",
      tokens_cached: r.promptTokens + r.predictedTokens,
      timings: r.timings,
    });

    if (body.stream === true) {
      let slotId = -1;
      const result = await run(res, prompt, promptTokens, tokens, {
        onStart: (slot) => {
          slotId = slot.id;
          startSse(res);
        },
        onPiece: (piece) =>
          sseWrite(res, { index: 0, content: piece, tokens: [], stop: false, id_slot: slotId }),
      });
      if (result === undefined) return;
      sseWrite(res, final(result, ""));
      res.end();
      return;
    }
    const result = await run(res, prompt, promptTokens, tokens, {});
    if (result === undefined) return;
    sendJson(res, 200, final(result, result.content));
  }

  /** OpenAI's /v1/completions shape (llama-server serves it next to its native /completion). */
  async function openAiCompletions(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const raw = body.prompt;
    const prompt = typeof raw === "string" ? raw : Array.isArray(raw) ? raw.join(" ") : undefined;
    if (prompt === undefined) throw new BadRequest("'prompt' is required");
    const promptTokens = Math.max(1, countWords(prompt));
    const tokens = requestedTokens(body, ["max_tokens", "n_predict"]);
    const envelope = {
      id: randomId("cmpl-"),
      object: "text_completion",
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === "string" ? body.model : model,
    };
    const usage = (r: GenerationResult) => ({
      completion_tokens: r.predictedTokens,
      prompt_tokens: r.promptTokens,
      total_tokens: r.predictedTokens + r.promptTokens,
    });
    if (body.stream === true) {
      const result = await run(res, prompt, promptTokens, tokens, {
        onStart: () => startSse(res),
        onPiece: (piece) =>
          sseWrite(res, {
            ...envelope,
            choices: [{ text: piece, index: 0, logprobs: null, finish_reason: null }],
          }),
      });
      if (result === undefined) return;
      sseWrite(res, {
        ...envelope,
        choices: [{ text: "", index: 0, logprobs: null, finish_reason: result.finishReason }],
        usage: usage(result),
      });
      sseWrite(res, "[DONE]");
      res.end();
      return;
    }
    const result = await run(res, prompt, promptTokens, tokens, {});
    if (result === undefined) return;
    sendJson(res, 200, {
      ...envelope,
      choices: [{ text: result.content, index: 0, logprobs: null, finish_reason: result.finishReason }],
      usage: usage(result),
    });
  }

  const routes: Record<
    string,
    (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>
  > = {
    "GET /health": (_req, res) => {
      if (options.failHealth) sendError(res, 500, "server_error", "llama-stub: health failure injected");
      else sendJson(res, 200, { status: "ok" });
    },
    "GET /v1/models": (_req, res) =>
      sendJson(res, 200, {
        object: "list",
        data: [
          {
            id: model,
            object: "model",
            created: Math.floor(Date.now() / 1000),
            owned_by: "llamacpp",
            meta: {
              vocab_type: 2,
              n_vocab: 32000,
              n_ctx_train: options.ctxSize,
              n_embd: 64,
              n_params: 1_000_000,
              size: modelSizeBytes(),
            },
          },
        ],
      }),
    "GET /props": (_req, res) =>
      sendJson(res, 200, {
        default_generation_settings: {
          ...slotJson(engine.slots[0]!),
          id: 0,
          id_task: -1,
          is_processing: false,
        },
        total_slots: engine.slots.length,
        model_path: options.model ?? "",
        chat_template: "{% for message in messages %}{{ message.content }}{% endfor %}",
        build_info: BUILD_INFO,
      }),
    "GET /slots": (_req, res) => {
      if (!options.slots) {
        sendError(
          res,
          501,
          "not_supported_error",
          "This server does not support slots endpoint. Start it with `--slots`",
        );
      } else sendJson(res, 200, engine.slots.map(slotJson));
    },
    "GET /metrics": (_req, res) => {
      if (!options.metrics) {
        sendError(
          res,
          501,
          "not_supported_error",
          "This server does not support metrics endpoint. Start it with `--metrics`",
        );
        return;
      }
      const text = engine.renderMetrics();
      res.writeHead(200, {
        "content-type": "text/plain; version=0.0.4",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
    },
    "POST /completion": completion,
    "POST /v1/chat/completions": chatCompletions,
    "POST /v1/completions": openAiCompletions,
  };
  // Aliases llama-server also serves.
  routes["GET /v1/health"] = routes["GET /health"]!;
  routes["GET /models"] = routes["GET /v1/models"]!;
  routes["POST /completions"] = completion;
  routes["POST /chat/completions"] = chatCompletions;

  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    // A hung backend accepts the connection and never answers.
    if (state.hung) return;
    if (!state.ready) {
      sendError(res, 503, "unavailable_error", "Loading model");
      return;
    }
    const pathname = new URL(req.url ?? "/", "http://stub").pathname;
    const handler = routes[`${req.method} ${pathname}`];
    if (handler === undefined) {
      sendError(res, 404, "not_found_error", "File Not Found");
      return;
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (res.headersSent) {
          res.end();
          return;
        }
        if (err instanceof BadRequest) sendError(res, 400, "invalid_request_error", err.message);
        else sendError(res, 500, "server_error", err instanceof Error ? err.message : String(err));
      });
  });
  return server;
}
