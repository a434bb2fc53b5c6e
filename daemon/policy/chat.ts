/**
 * `chat.respond`: route the request to a cell, wake its runtime if it sleeps, send the completion to its
 * backend, and on a backend failure (5xx, timeout, refused) try the next allowed cell once. `verified` asks a
 * second cell with another model in parallel. Every routed request is counted by the host.
 */

import { getAdapter } from "../../adapters/registry.js";
import {
  type BackendFailure,
  type BackendReply,
  backendChat,
  isRetryable,
} from "../../adapters/shared/openai-client.js";
import { randomUUID } from "../../base/entropy.js";
import { RmxError } from "../../base/errors.js";
import type { CellRef, ChatAnswer, ChatParams, ChatResult } from "../../ipc/protocol/policy.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import type { RuntimePlace } from "./candidates.js";
import type { ResolveRequest } from "./resolve.js";
import { noEligibleCell, type Routed } from "./routing.js";

export const CHAT_ROUTE = "/v1/chat/completions";
export const DEFAULT_CHAT_TIMEOUT_MS = 120_000;

export interface ChatHost {
  route(req: ResolveRequest): Routed;
  stickyNote(routed: Routed): string | undefined;
  runtime(id: string): RuntimeSupervisor | undefined;
  placeOf(rt: RuntimeSupervisor): RuntimePlace;
  /** Starts an idle runtime and waits until it is ready; throws TIMEOUT or BACKEND_FAILED. */
  /** Starts an idle runtime (with `startStopped`, a stopped one too), making room in its swap group. */
  ensureReady(rt: RuntimeSupervisor, deadline: number, startStopped?: boolean): Promise<void>;
  /** Marks the runtime busy (it must not idle mid-request); returns the function that ends it. */
  begin(runtimeId: string): () => void;
  /** `route` defaults to the chat route; the HTTP gateway passes the one it served. */
  record(cellKey: string, ms: number, ok: boolean, route?: string): void;
  now(): number;
}

type Attempt = { ref: CellRef; place?: RuntimePlace; reply: BackendReply };

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function answerOf(a: Attempt & { reply: { ok: true } }): ChatAnswer {
  const { reply } = a;
  const answer: ChatAnswer = {
    content: reply.content,
    cell: a.ref.cell,
    runtime: a.ref.runtime ?? "",
    model: a.place?.model ?? reply.model ?? "",
    latency_ms: roundMs(reply.ms),
  };
  if (reply.finish_reason !== undefined) answer.finish_reason = reply.finish_reason;
  if (reply.usage !== undefined) answer.usage = reply.usage;
  if (reply.timings !== undefined) answer.timings = reply.timings;
  return answer;
}

function failureText(a: Attempt): string {
  return a.reply.ok ? "ok" : a.reply.message;
}

async function attempt(
  host: ChatHost,
  ref: CellRef,
  params: ChatParams,
  deadline: number,
  signal: AbortSignal | undefined,
  onDelta?: (piece: string) => void,
): Promise<Attempt> {
  const fail = (message: string): Attempt => ({
    ref,
    reply: { ok: false, kind: "error", message, ms: 0, streamed: false },
  });
  const rt = ref.runtime === undefined ? undefined : host.runtime(ref.runtime);
  if (rt === undefined) return fail(`runtime ${ref.runtime ?? "?"} of ${ref.cell} is gone`);
  const place = host.placeOf(rt);
  // Busy from here: the runtime must not idle while it is woken or while it answers.
  const end = host.begin(rt.id);
  let reply: BackendReply;
  try {
    try {
      await host.ensureReady(rt, deadline);
    } catch (error) {
      if (error instanceof RmxError && error.code === "TIMEOUT") throw error;
      return { ...fail(error instanceof Error ? error.message : String(error)), place };
    }
    if (signal?.aborted) return { ...fail("the caller's connection closed"), place };
    const endpoint = rt.endpoint;
    if (endpoint === undefined)
      return { ...fail(`runtime ${rt.id} has no endpoint (state ${rt.state})`), place };
    const adapter = getAdapter(rt.spec.adapter);
    const body: Record<string, unknown> = {
      messages: params.messages,
      // Remote endpoints need their own model name; local llama servers serve one model and echo it.
      model:
        getAdapter(rt.spec.adapter).modelFormat === "name" ? (rt.spec.model ?? place.model) : place.model,
    };
    if (params.max_tokens !== undefined) body.max_tokens = params.max_tokens;
    reply = await backendChat({
      url: adapter.chatUrl(endpoint),
      headers: adapter.authHeaders(rt.spec),
      body,
      timeoutMs: Math.max(1, deadline - host.now()),
      ...(onDelta !== undefined ? { onDelta } : {}),
      ...(signal !== undefined ? { signal } : {}),
    });
  } finally {
    end();
  }
  host.record(place.key, reply.ms, reply.ok);
  return { ref, place, reply };
}

function backendFailed(attempts: Attempt[], why: string): RmxError {
  const tried = attempts.map((a) => `${a.ref.cell} (runtime ${a.ref.runtime ?? "?"}): ${failureText(a)}`);
  return new RmxError("BACKEND_FAILED", `chat failed: ${tried.join("; then ")}${why ? `; ${why}` : ""}`, {
    attempts: attempts.map((a) => ({
      cell: a.ref.cell,
      runtime: a.ref.runtime,
      error: failureText(a),
      ...(!a.reply.ok && a.reply.status !== undefined ? { status: a.reply.status } : {}),
    })),
  });
}

/**
 * `signal` aborts when the caller's connection closes: the backend requests in flight are aborted (the
 * backend stops generating for nobody) and no other cell is tried.
 */
export async function respondChat(
  host: ChatHost,
  params: ChatParams,
  notify?: (method: string, payload: unknown) => void,
  signal?: AbortSignal,
): Promise<ChatResult> {
  const request = params.request ?? `chat-${randomUUID()}`;
  const deadline = host.now() + (params.timeout_ms ?? DEFAULT_CHAT_TIMEOUT_MS);
  const req: ResolveRequest = {};
  if (params.agent !== undefined) req.agent = params.agent;
  if (params.project !== undefined) req.project = params.project;
  if (params.model !== undefined) req.model = params.model;
  if (params.mode !== undefined) req.mode = params.mode;
  if (params.slo_ms !== undefined) req.slo_ms = params.slo_ms;
  const routed = host.route(req);
  const primaryRef = routed.serve;
  if (primaryRef === undefined) throw noEligibleCell(req, routed);
  const { resolution } = routed;

  const onDelta =
    params.stream === true && notify !== undefined
      ? (piece: string) => notify("chat.delta", { request, content: piece })
      : undefined;
  const alsoRef = resolution.mode === "verified" ? resolution.also : undefined;
  const [first, second] = await Promise.all([
    attempt(host, primaryRef, params, deadline, signal, onDelta),
    alsoRef === undefined ? undefined : attempt(host, alsoRef, params, deadline, signal),
  ]);

  const attempts: Attempt[] = [first];
  let served = first;
  let retryReason: string | undefined;
  const timeoutMs = params.timeout_ms ?? DEFAULT_CHAT_TIMEOUT_MS;
  const outOfTime = (a: Attempt) =>
    new RmxError("TIMEOUT", `chat: no answer within ${timeoutMs} ms (${a.ref.cell}: ${failureText(a)})`, {
      timeout_ms: timeoutMs,
      cell: a.ref.cell,
    });
  if (!first.reply.ok) {
    const failure: BackendFailure = first.reply;
    if (signal?.aborted) throw backendFailed(attempts, "the caller's connection closed");
    if (host.now() >= deadline) throw outOfTime(first);
    if (!isRetryable(failure))
      throw backendFailed(attempts, failure.streamed ? "the answer was partly streamed" : "");
    const next =
      resolution.ranked.find((r) => r.runtime !== primaryRef.runtime && r.cell !== primaryRef.cell) ??
      resolution.ranked.find((r) => r.runtime !== primaryRef.runtime);
    if (next === undefined) throw backendFailed(attempts, "no other allowed cell to try");
    const retry = await attempt(host, next, params, deadline, signal, onDelta);
    attempts.push(retry);
    if (!retry.reply.ok) throw host.now() >= deadline ? outOfTime(retry) : backendFailed(attempts, "");
    served = retry;
    retryReason = `${primaryRef.cell} failed: ${failure.message}`;
  }

  const answer = answerOf(served as Attempt & { reply: { ok: true } });
  const result: ChatResult = { request, ...answer, fallback: { used: false } };
  const preferred = resolution.preferred;
  if (retryReason !== undefined) {
    result.fallback = { used: true, from: primaryRef.cell, reason: retryReason };
  } else if (preferred !== undefined && served.ref.cell !== preferred.cell) {
    const passed = resolution.passed_over.find((p) => p.cell === preferred.cell);
    const reason =
      host.stickyNote(routed) ??
      (passed !== undefined ? `${passed.why}: ${passed.detail}` : `${preferred.cell} is not eligible`);
    result.fallback = { used: true, from: preferred.cell, reason };
  }
  if (second !== undefined && alsoRef !== undefined) {
    result.verified = second.reply.ok
      ? answerOf(second as Attempt & { reply: { ok: true } })
      : { cell: alsoRef.cell, runtime: alsoRef.runtime ?? "", error: failureText(second) };
  } else if (resolution.mode === "verified" && resolution.note !== undefined) {
    result.note = resolution.note;
  }
  return result;
}
