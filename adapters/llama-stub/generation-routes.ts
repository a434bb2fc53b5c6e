import type http from "node:http";
import { type GenerationResult, type InferenceEngine, RequestAborted } from "./engine.js";
import { tokenIds } from "./extra-routes.js";
import {
  HttpError,
  type Json,
  jsonError,
  readJsonObject,
  sendError,
  sendJson,
  sseWrite,
  startSse,
} from "./http-shared.js";
import type { StubOptions } from "./options.js";
import { DEFAULT_PARAMS } from "./params.js";
import type { StubState } from "./state.js";
import { countWords } from "./tokens.js";

const DEFAULT_N_PREDICT = 16;
/** What b4748 names a completion whose request names no model. */
const OAI_MODEL = "gpt-3.5-turbo";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;
type TokenLimit = { maxTokens: number; stopAtEos: boolean };

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === "string" ? part : typeof part?.text === "string" ? part.text : ""))
      .join(" ");
  }
  return "";
}

/**
 * The first integer of `fields`; b4748 ignores a value of the wrong type (`max_tokens: "four"` is 200),
 * and -1 or no limit runs "until EOS", which the stub places at DEFAULT_N_PREDICT tokens.
 */
function requestedTokens(body: Json, fields: string[]): TokenLimit {
  for (const field of fields) {
    const value = body[field];
    if (typeof value !== "number" || !Number.isInteger(value)) continue;
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

const usageOf = (r: GenerationResult) => ({
  completion_tokens: r.predictedTokens,
  prompt_tokens: r.promptTokens,
  total_tokens: r.predictedTokens + r.promptTokens,
});

/** Chat and completion routes, OpenAI-style and llama-native, streaming or not. */
export function generationRoutes(
  options: StubOptions,
  engine: InferenceEngine,
  state: StubState,
  buildInfo: string,
): Record<string, Handler> {
  const failingInference = () =>
    options.failInference ||
    (options.failInferenceAfter !== undefined && state.successfulInferences >= options.failInferenceAfter);

  async function run(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    prompt: string,
    promptTokens: number,
    tokens: TokenLimit,
    hooks: Parameters<InferenceEngine["generate"]>[1],
  ): Promise<GenerationResult | undefined> {
    if (failingInference()) {
      sendError(
        req,
        res,
        500,
        "server_error",
        "llama-stub: inference failure injected (--stub-fail-inference)",
      );
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
      if (err instanceof RequestAborted) return undefined;
      throw err;
    }
  }

  const embeddingsOnly = () =>
    new HttpError(
      501,
      "not_supported_error",
      "This server does not support completions. Start it without `--embeddings`",
    );

  /** OpenAI chat and text completions share one envelope; `text` picks the text_completion flavour. */
  function openAi(kind: "chat" | "text"): Handler {
    return async (req, res) => {
      if (options.embeddings) throw embeddingsOnly();
      const body = await readJsonObject(req);
      let prompt: string;
      if (kind === "chat") {
        if (!("messages" in body))
          throw jsonError("[json.exception.out_of_range.403] key 'messages' not found");
        const messages = body.messages;
        if (!Array.isArray(messages)) {
          const dumped = JSON.stringify(messages);
          throw jsonError(
            `Failed to parse messages: Expected 'messages' to be an array, got ${dumped}; messages = ${dumped}`,
          );
        }
        prompt = messages.map((m: { content?: unknown } | null) => contentText(m?.content)).join("\n");
      } else {
        if (body.prompt === undefined) throw jsonError('"prompt" is required');
        prompt = Array.isArray(body.prompt) ? body.prompt.join(" ") : String(body.prompt);
      }
      const promptTokens = Math.max(1, countWords(prompt));
      const tokens = requestedTokens(body, ["max_completion_tokens", "max_tokens", "n_predict"]);
      const id = randomId("chatcmpl-");
      const created = Math.floor(Date.now() / 1000);
      const envelope = {
        created,
        id,
        model: typeof body.model === "string" ? body.model : OAI_MODEL,
        system_fingerprint: buildInfo,
        object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
      };
      const choice = (piece: string | undefined, finish: string | null) =>
        kind === "chat"
          ? { finish_reason: finish, index: 0, delta: piece === undefined ? {} : { content: piece } }
          : { finish_reason: finish, index: 0, logprobs: null, text: piece ?? "" };

      if (body.stream === true) {
        // No initial role chunk on b4748: the first event already carries content.
        const result = await run(req, res, prompt, promptTokens, tokens, {
          onStart: () => startSse(req, res),
          onPiece: (piece) => sseWrite(res, { choices: [choice(piece, null)], ...envelope }),
        });
        if (result === undefined) return;
        sseWrite(res, {
          choices: [choice(undefined, result.finishReason)],
          ...envelope,
          usage: usageOf(result),
          timings: result.timings,
        });
        sseWrite(res, "[DONE]");
        res.end();
        return;
      }
      const result = await run(req, res, prompt, promptTokens, tokens, {});
      if (result === undefined) return;
      const final =
        kind === "chat"
          ? {
              finish_reason: result.finishReason,
              index: 0,
              message: { role: "assistant", content: result.content },
            }
          : { finish_reason: result.finishReason, index: 0, logprobs: null, text: result.content };
      sendJson(req, res, 200, {
        choices: [final],
        ...envelope,
        object: kind === "chat" ? "chat.completion" : "text_completion",
        usage: usageOf(result),
        timings: result.timings,
      });
    };
  }

  const completion: Handler = async (req, res) => {
    if (options.embeddings) throw embeddingsOnly();
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
      throw new HttpError(
        400,
        "invalid_request_error",
        "[json.exception.out_of_range.403] key 'prompt' not found",
      );
    }
    promptTokens = Math.max(1, promptTokens);
    const tokens = requestedTokens(body, ["n_predict", "max_tokens"]);
    const model = typeof body.model === "string" ? body.model : OAI_MODEL;
    const final = (r: GenerationResult, content: string) => ({
      index: 0,
      content,
      tokens: [],
      id_slot: r.slotId,
      stop: true,
      model,
      tokens_predicted: r.predictedTokens,
      tokens_evaluated: r.promptTokens,
      generation_settings: {
        ...DEFAULT_PARAMS,
        n_predict: tokens.stopAtEos ? -1 : tokens.maxTokens,
        stream: body.stream === true,
        ...(typeof body.temperature === "number" ? { temperature: body.temperature } : {}),
      },
      prompt,
      has_new_line: false,
      truncated: r.truncated,
      stop_type: r.finishReason === "stop" ? "eos" : "limit",
      stopping_word: "",
      tokens_cached: r.promptTokens + r.predictedTokens,
      timings: r.timings,
    });

    if (body.stream === true) {
      let predicted = 0;
      const result = await run(req, res, prompt, promptTokens, tokens, {
        onStart: () => startSse(req, res),
        onPiece: (piece) =>
          sseWrite(res, {
            index: 0,
            content: piece,
            tokens: tokenIds(piece, 32000),
            stop: false,
            id_slot: -1,
            tokens_predicted: ++predicted,
            tokens_evaluated: promptTokens,
          }),
      });
      if (result === undefined) return;
      sseWrite(res, final(result, ""));
      res.end();
      return;
    }
    const result = await run(req, res, prompt, promptTokens, tokens, {});
    if (result === undefined) return;
    sendJson(req, res, 200, final(result, result.content));
  };

  const chat = openAi("chat");
  const text = openAi("text");
  return {
    "POST /completion": completion,
    "POST /completions": completion,
    "POST /v1/chat/completions": chat,
    "POST /chat/completions": chat,
    "POST /v1/completions": text,
  };
}
