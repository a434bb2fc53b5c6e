import type http from "node:http";
import { gzipSync } from "node:zlib";
import { type Json, readJsonObject, sendBody, sendError, sendJson } from "./http-shared.js";
import type { StubOptions } from "./options.js";
import { countWords } from "./tokens.js";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** The stub's tokenizer is words; ids are a stable hash of each word into the vocabulary. */
export function tokenIds(text: string, nVocab: number): number[] {
  const words = text.trim() === "" ? [] : text.trim().split(/\s+/);
  return words.map((word) => {
    let h = 7;
    for (let i = 0; i < word.length; i++) h = (h * 31 + word.charCodeAt(i)) >>> 0;
    return 3 + (h % Math.max(1, nVocab - 3));
  });
}

/** A deterministic vector per token, so equal input gives equal embeddings. */
function vector(seed: number, nEmbd: number): number[] {
  let state = seed * 2654435761 || 1;
  return Array.from({ length: nEmbd }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 2 ** 32) * 4 - 2;
  });
}

function mean(rows: number[][], nEmbd: number): number[] {
  const sum = new Array<number>(nEmbd).fill(0);
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) sum[i] = (sum[i] as number) + (row[i] as number);
  }
  return sum.map((v) => v / Math.max(1, rows.length));
}

const UI_HTML = "<!DOCTYPE html><html><head><title>llama-stub</title></head><body>llama-stub</body></html>\n";

const LOADING_HTML = `<!DOCTYPE html>
<html>
    <head>
        <meta http-equiv="refresh" content="5">
    </head>
    <body>
        <div id="loading">
            The model is loading. Please wait.<br/>
            The user interface will appear soon.
        </div>
    </body>
</html>
`;

/** `GET /` while loading: b4748's HTML page, 503. */
export function sendLoadingPage(req: http.IncomingMessage, res: http.ServerResponse): void {
  sendBody(req, res, 503, "text/html; charset=utf-8", LOADING_HTML);
}

const notSupported =
  (message: string): Handler =>
  (req, res) =>
    sendError(req, res, 501, "not_supported_error", message);

/** Routes around generation: the web UI, tokenizer, templates, embeddings, and the 501s of b4748. */
export function extraRoutes(
  options: StubOptions,
  dims: () => { nEmbd: number; nVocab: number },
): Record<string, Handler> {
  const pooled = options.pooling !== undefined && options.pooling !== "none";
  const inputs = (body: Json, field: string): string[] => {
    const value = body[field] ?? body.content ?? body.input;
    if (Array.isArray(value)) return value.map(String);
    return [typeof value === "string" ? value : ""];
  };
  const embed = (text: string): number[][] => {
    const { nEmbd, nVocab } = dims();
    const rows = tokenIds(text, nVocab).map((id) => vector(id, nEmbd));
    return pooled ? [mean(rows, nEmbd)] : rows;
  };
  const nativeEmbeddings: Handler = async (req, res) => {
    const body = await readJsonObject(req);
    const texts = inputs(body, "content");
    sendJson(
      req,
      res,
      200,
      texts.map((text, index) => ({ index, embedding: embed(text) })),
    );
  };
  const rerankMessage =
    "This server does not support reranking. Start it with `--reranking` and without `--embedding`";
  return {
    "GET /": (req, res) => {
      if (!/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
        sendBody(req, res, 200, "text/plain", "Error: gzip is not supported by this browser");
        return;
      }
      sendBody(req, res, 200, "text/html; charset=utf-8", gzipSync(UI_HTML), {
        "Content-Encoding": "gzip",
        "Cross-Origin-Embedder-Policy": "require-corp",
        "Cross-Origin-Opener-Policy": "same-origin",
      });
    },
    "GET /lora-adapters": (req, res) => sendJson(req, res, 200, []),
    "POST /tokenize": async (req, res) => {
      const body = await readJsonObject(req);
      const content = typeof body.content === "string" ? body.content : "";
      const words = content.trim() === "" ? [] : content.trim().split(/\s+/);
      const ids = tokenIds(content, dims().nVocab);
      const tokens =
        body.with_pieces === true ? ids.map((id, i) => ({ id, piece: words[i] as string })) : ids;
      sendJson(req, res, 200, { tokens });
    },
    "POST /detokenize": async (req, res) => {
      const body = await readJsonObject(req);
      const tokens = Array.isArray(body.tokens) ? body.tokens : [];
      sendJson(req, res, 200, { content: tokens.map((t) => ` t${String(t)}`).join("") });
    },
    "POST /apply-template": async (req, res) => {
      const body = await readJsonObject(req);
      const messages = Array.isArray(body.messages)
        ? (body.messages as { role?: unknown; content?: unknown }[])
        : [];
      const prompt = messages
        .map(
          (m) =>
            `<|im_start|>${String(m?.role ?? "")}\n${typeof m?.content === "string" ? m.content : ""}<|im_end|>\n`,
        )
        .join("");
      sendJson(req, res, 200, { prompt: `${prompt}<|im_start|>assistant\n` });
    },
    "POST /embedding": nativeEmbeddings,
    "POST /embeddings": nativeEmbeddings,
    "POST /v1/embeddings": async (req, res) => {
      const body = await readJsonObject(req);
      if (!pooled) {
        sendError(
          req,
          res,
          400,
          "invalid_request_error",
          "Pooling type 'none' is not OAI compatible. Please use a different pooling type",
        );
        return;
      }
      const texts = inputs(body, "input");
      const promptTokens = texts.reduce((n, text) => n + Math.max(1, countWords(text)), 0);
      sendJson(req, res, 200, {
        model: typeof body.model === "string" ? body.model : "gpt-3.5-turbo",
        object: "list",
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
        data: texts.map((text, index) => ({ embedding: embed(text)[0], index, object: "embedding" })),
      });
    },
    "POST /infill": notSupported(
      "Infill is not supported by this model: prefix token is missing. suffix token is missing. middle token is missing. ",
    ),
    "POST /rerank": notSupported(rerankMessage),
    "POST /reranking": notSupported(rerankMessage),
    "POST /v1/rerank": notSupported(rerankMessage),
    "POST /v1/reranking": notSupported(rerankMessage),
    "POST /props": notSupported(
      "This server does not support changing global properties. Start it with `--props`",
    ),
  };
}
