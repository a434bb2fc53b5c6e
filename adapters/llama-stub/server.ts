import http from "node:http";
import type { GenerationResult, InferenceEngine } from "./engine.js";
import { extraRoutes, sendLoadingPage } from "./extra-routes.js";
import { generationRoutes } from "./generation-routes.js";
import { baseHeaders, HttpError, sendBody, sendError, sendJson } from "./http-shared.js";
import type { ModelInfo } from "./model-load.js";
import type { StubOptions } from "./options.js";
import { DEFAULT_PARAMS } from "./params.js";
import { BUILD_INFO, type StubState } from "./state.js";

/** Routes b4748 answers without `Authorization: Bearer <key>` when `--api-key` is set. */
const PUBLIC_ROUTES = new Set([
  "GET /health",
  "HEAD /health",
  "GET /models",
  "GET /v1/models",
  "GET /",
  "HEAD /",
]);

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export type { GenerationResult };

/** llama-server b4748's HTTP API over the stub's engine. */
export function createStubServer(
  options: StubOptions,
  engine: InferenceEngine,
  state: StubState,
  modelInfo: () => ModelInfo | undefined,
): http.Server {
  const model = options.alias ?? options.model ?? "llama-stub";
  const startedAt = Math.floor(Date.now() / 1000);
  const dims = () => ({ nEmbd: modelInfo()?.nEmbd ?? 64, nVocab: modelInfo()?.nVocab ?? 32000 });

  const slotJson = (slot: InferenceEngine["slots"][number]) => ({
    id: slot.id,
    id_task: slot.idTask,
    n_ctx: slot.nCtx,
    speculative: false,
    is_processing: slot.isProcessing,
    non_causal: false,
    params: DEFAULT_PARAMS,
    prompt: "",
    next_token: {
      has_next_token: true,
      has_new_line: false,
      n_remain: slot.nRemain,
      n_decoded: slot.nDecoded,
      stopping_word: "",
    },
  });

  const routes: Record<string, Handler> = {
    "GET /health": (req, res) => {
      if (options.failHealth) sendError(req, res, 500, "server_error", "llama-stub: health failure injected");
      else sendJson(req, res, 200, { status: "ok" });
    },
    "GET /v1/models": (req, res) => {
      const info = modelInfo();
      sendJson(req, res, 200, {
        object: "list",
        data: [
          {
            id: model,
            object: "model",
            created: Math.floor(Date.now() / 1000),
            owned_by: "llamacpp",
            meta: {
              vocab_type: info?.vocabType ?? 1,
              n_vocab: info?.nVocab ?? 32000,
              n_ctx_train: info?.nCtxTrain ?? options.ctxSize,
              n_embd: info?.nEmbd ?? 64,
              n_params: info?.nParams ?? 0,
              size: info?.size ?? 0,
            },
          },
        ],
      });
    },
    "GET /props": (req, res) =>
      sendJson(req, res, 200, {
        default_generation_settings: {
          ...slotJson(engine.slots[0]!),
          id: 0,
          id_task: -1,
          is_processing: false,
        },
        total_slots: engine.slots.length,
        model_path: options.model ?? "",
        chat_template:
          "{%- for message in messages -%}\n  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n  {{- '<|im_start|>assistant\n' -}}\n{%- endif -%}",
        bos_token: "<s>",
        eos_token: "</s>",
        build_info: BUILD_INFO,
      }),
    "GET /slots": (req, res) => {
      if (!options.slots) {
        sendError(
          req,
          res,
          501,
          "not_supported_error",
          "This server does not support slots endpoint. Start it with `--slots`",
        );
      } else sendJson(req, res, 200, engine.slots.map(slotJson));
    },
    "GET /metrics": (req, res) => {
      if (!options.metrics) {
        sendError(
          req,
          res,
          501,
          "not_supported_error",
          "This server does not support metrics endpoint. Start it with `--metrics`",
        );
        return;
      }
      sendBody(req, res, 200, "text/plain; version=0.0.4", engine.renderMetrics(), {
        "Process-Start-Time-Unix": String(startedAt),
      });
    },
    ...generationRoutes(options, engine, state, BUILD_INFO),
    ...extraRoutes(options, dims),
  };
  routes["GET /models"] = routes["GET /v1/models"]!;
  routes["HEAD /health"] = routes["GET /health"]!;

  const authorized = (req: http.IncomingMessage, key: string): boolean => {
    if (options.apiKey === undefined || req.method === "OPTIONS" || PUBLIC_ROUTES.has(key)) return true;
    return req.headers.authorization === `Bearer ${options.apiKey}`;
  };

  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    // A hung backend accepts the connection and never answers.
    if (state.hung) return;
    res.sendDate = false; // cpp-httplib sends no Date
    const pathname = new URL(req.url ?? "/", "http://stub").pathname;
    const slotAction = req.method === "POST" && /^\/slots\/[^/]+$/.test(pathname);
    const key = `${req.method} ${slotAction ? "/slots/:id" : pathname}`;
    if (req.method === "OPTIONS") {
      res.writeHead(200, {
        "Content-Type": "text/html",
        ...baseHeaders(req),
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "*",
        "Content-Length": "0",
      });
      res.end();
      return;
    }
    if (!state.ready) {
      if (key === "GET /") sendLoadingPage(req, res);
      else sendError(req, res, 503, "unavailable_error", "Loading model");
      return;
    }
    if (!authorized(req, key)) {
      sendError(req, res, 401, "authentication_error", "Invalid API Key");
      return;
    }
    if (slotAction) {
      sendError(
        req,
        res,
        501,
        "not_supported_error",
        "This server does not support slots action. Start it with `--slot-save-path`",
      );
      return;
    }
    const handler = routes[key];
    if (handler === undefined) {
      sendError(req, res, 404, "not_found_error", "File Not Found");
      return;
    }
    if (req.method === "HEAD") res.setHeader("Accept-Ranges", "bytes");
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (res.headersSent) {
          res.end();
          return;
        }
        if (err instanceof HttpError) sendError(req, res, err.status, err.type, err.message);
        else sendError(req, res, 500, "server_error", err instanceof Error ? err.message : String(err));
      });
  });
  return server;
}
