/**
 * One chat completion against an OpenAI-compatible backend (`/v1/chat/completions`), plain or streamed
 * (server-sent events), bounded by a timeout, never throwing: failures come back classified so the router
 * can decide whether another cell may try. Headers may carry an API key: they are never logged or echoed.
 */
import http from "node:http";
import { monotonicMs } from "../../base/monotonic.js";
import { httpRequest } from "./http.js";
import { lazyHttps } from "./lazy-https.js";

export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface BackendAnswer {
  ok: true;
  content: string;
  model?: string;
  finish_reason?: string;
  usage?: ChatUsage;
  timings?: Record<string, unknown>;
  ms: number;
}

export type BackendFailureKind = "refused" | "timeout" | "http_error" | "bad_answer" | "error" | "aborted";

export interface BackendFailure {
  ok: false;
  kind: BackendFailureKind;
  status?: number;
  message: string;
  ms: number;
  /** Some content was already streamed to the caller: another cell must not answer on top of it. */
  streamed: boolean;
}

export type BackendReply = BackendAnswer | BackendFailure;

export interface BackendChatRequest {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  timeoutMs: number;
  /** With it the request is streamed and every content piece is handed over as it arrives. */
  onDelta?: (piece: string) => void;
  /** Aborts the backend request (the caller's connection closed); the reply is then kind `aborted`. */
  signal?: AbortSignal;
}

/** 5xx, timeouts, refused or broken connections: the backend failed, another cell may try. 4xx: the request did. */
export function isRetryable(failure: BackendFailure): boolean {
  if (failure.streamed || failure.kind === "aborted") return false;
  if (failure.kind === "http_error") return failure.status === undefined || failure.status >= 500;
  return true;
}

const MAX_ERROR_TEXT = 300;

function errorText(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string };
    const message = typeof parsed.error === "string" ? parsed.error : parsed.error?.message;
    if (typeof message === "string" && message !== "")
      return `HTTP ${status}: ${message.slice(0, MAX_ERROR_TEXT)}`;
  } catch {
    // not JSON: the raw text follows
  }
  const text = body.trim().slice(0, MAX_ERROR_TEXT);
  return text === "" ? `HTTP ${status}` : `HTTP ${status}: ${text}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function pickUsage(v: unknown): ChatUsage | undefined {
  if (!isObject(v)) return undefined;
  const usage: ChatUsage = {};
  for (const key of ["prompt_tokens", "completion_tokens", "total_tokens"] as const) {
    const n = v[key];
    if (typeof n === "number") usage[key] = n;
  }
  return usage;
}

function finishAnswer(
  content: string,
  extra: { model?: unknown; finish?: unknown; usage?: unknown; timings?: unknown },
  ms: number,
): BackendAnswer {
  const answer: BackendAnswer = { ok: true, content, ms };
  if (typeof extra.model === "string") answer.model = extra.model;
  if (typeof extra.finish === "string") answer.finish_reason = extra.finish;
  const usage = pickUsage(extra.usage);
  if (usage !== undefined) answer.usage = usage;
  if (isObject(extra.timings)) answer.timings = extra.timings;
  return answer;
}

async function plainChat(req: BackendChatRequest): Promise<BackendReply> {
  const result = await httpRequest(req.url, {
    method: "POST",
    headers: req.headers,
    body: { ...req.body, stream: false },
    timeoutMs: req.timeoutMs,
    ...(req.signal !== undefined ? { signal: req.signal } : {}),
  });
  if (result.kind !== "response") {
    if (result.code === "ABORTED") {
      return { ok: false, kind: "aborted", message: result.message, ms: result.ms, streamed: false };
    }
    return { ok: false, kind: result.kind, message: result.message, ms: result.ms, streamed: false };
  }
  if (result.status < 200 || result.status >= 300) {
    return {
      ok: false,
      kind: "http_error",
      status: result.status,
      message: `POST ${req.url}: ${errorText(result.status, result.body)}`,
      ms: result.ms,
      streamed: false,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.body);
  } catch {
    return bad(req.url, "answer is not JSON", result.ms);
  }
  const choice = isObject(parsed) && Array.isArray(parsed.choices) ? parsed.choices[0] : undefined;
  const message = isObject(choice) ? choice.message : undefined;
  const content = isObject(message) ? message.content : undefined;
  if (typeof content !== "string") return bad(req.url, "answer has no choices[0].message.content", result.ms);
  const p = parsed as Record<string, unknown>;
  return finishAnswer(
    content,
    {
      model: p.model,
      finish: (choice as Record<string, unknown>).finish_reason,
      usage: p.usage,
      timings: p.timings,
    },
    result.ms,
  );
}

function bad(url: string, why: string, ms: number): BackendFailure {
  return { ok: false, kind: "bad_answer", message: `POST ${url}: ${why}`, ms, streamed: false };
}

/** Streams the completion; content pieces go to `onDelta` as they arrive. */
function streamChat(req: BackendChatRequest, onDelta: (piece: string) => void): Promise<BackendReply> {
  const started = monotonicMs();
  const elapsed = () => monotonicMs() - started;
  return new Promise((resolve) => {
    let settled = false;
    let streamed = false;
    let timer: NodeJS.Timeout | undefined;
    let unlisten = () => {};
    let content = "";
    const extra: { model?: unknown; finish?: unknown; usage?: unknown; timings?: unknown } = {};
    const finish = (reply: BackendReply) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      unlisten();
      resolve(reply);
    };
    const fail = (kind: BackendFailureKind, message: string, status?: number) =>
      finish({
        ok: false,
        kind,
        message,
        ms: elapsed(),
        streamed,
        ...(status === undefined ? {} : { status }),
      });

    let target: URL;
    try {
      target = new URL(req.url);
    } catch {
      resolve({ ok: false, kind: "error", message: `invalid URL ${req.url}`, ms: 0, streamed: false });
      return;
    }
    const transport = target.protocol === "https:" ? lazyHttps() : http;
    const payload = Buffer.from(JSON.stringify({ ...req.body, stream: true }), "utf8");
    const request = transport.request(
      target,
      {
        method: "POST",
        agent: false,
        headers: {
          accept: "text/event-stream",
          "content-type": "application/json",
          "content-length": String(payload.length),
          ...req.headers,
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        response.setEncoding("utf8");
        if (status < 200 || status >= 300) {
          let body = "";
          response.on("data", (chunk: string) => {
            if (body.length < 64 * 1024) body += chunk;
          });
          response.on("end", () => fail("http_error", `POST ${req.url}: ${errorText(status, body)}`, status));
          return;
        }
        let buffer = "";
        let done = false;
        const onLine = (line: string) => {
          if (!line.startsWith("data:")) return;
          const data = line.slice(5).trim();
          if (data === "[DONE]") {
            done = true;
            return;
          }
          let chunk: unknown;
          try {
            chunk = JSON.parse(data);
          } catch {
            return;
          }
          if (!isObject(chunk)) return;
          if (chunk.model !== undefined) extra.model = chunk.model;
          if (chunk.usage !== undefined) extra.usage = chunk.usage;
          if (chunk.timings !== undefined) extra.timings = chunk.timings;
          const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
          if (!isObject(choice)) return;
          if (typeof choice.finish_reason === "string") extra.finish = choice.finish_reason;
          const delta = isObject(choice.delta) ? choice.delta.content : undefined;
          if (typeof delta === "string" && delta !== "") {
            content += delta;
            streamed = true;
            onDelta(delta);
          }
        };
        response.on("data", (chunk: string) => {
          buffer += chunk;
          let nl = buffer.indexOf("\n");
          while (nl >= 0) {
            onLine(buffer.slice(0, nl).replace(/\r$/, ""));
            buffer = buffer.slice(nl + 1);
            nl = buffer.indexOf("\n");
          }
        });
        response.on("end", () => {
          if (buffer !== "") onLine(buffer);
          if (!done && content === "") {
            fail("bad_answer", `POST ${req.url}: the stream ended without data`);
            return;
          }
          finish(finishAnswer(content, extra, elapsed()));
        });
        response.on("aborted", () => fail("error", `POST ${req.url}: connection closed mid-stream`));
        response.on("error", (err) => fail("error", `POST ${req.url}: ${err.message}`));
      },
    );
    request.on("error", (err: NodeJS.ErrnoException) => {
      const kind: BackendFailureKind = err.code === "ECONNREFUSED" ? "refused" : "error";
      fail(kind, `POST ${req.url}: ${err.message || err.code || "request failed"}`);
    });
    timer = setTimeout(() => {
      fail("timeout", `no answer from POST ${req.url} within ${req.timeoutMs} ms`);
      request.destroy();
    }, req.timeoutMs);
    const { signal } = req;
    if (signal !== undefined) {
      const onAbort = () => {
        fail("aborted", `POST ${req.url}: aborted, the caller's connection closed`);
        request.destroy();
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      unlisten = () => signal.removeEventListener("abort", onAbort);
    }
    request.end(payload);
  });
}

export function backendChat(req: BackendChatRequest): Promise<BackendReply> {
  return req.onDelta === undefined ? plainChat(req) : streamChat(req, req.onDelta);
}
