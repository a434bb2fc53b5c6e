/**
 * POST /v1/chat/completions, /v1/completions, /v1/embeddings: validate the body, resolve `model` through
 * the matrix (model ids and aliases; pins by X-Rmx-Agent / X-Rmx-Project, the mode by X-Rmx-Mode), wake
 * the runtime if it is stopped or idle (a bounded queue per model), forward, and on a backend failure
 * before the first byte try the next allowed cell once. X-Rmx-Cell names the cell that served.
 */
import type http from "node:http";
import { getAdapter } from "../../adapters/registry.js";
import { RmxError } from "../../base/errors.js";
import { monotonicMs } from "../../base/monotonic.js";
import type { HttpSpec } from "../../base/spec.js";
import type { CellRef, ResolveMode } from "../../ipc/protocol/policy.js";
import type { ObservedRequest } from "../policy/request-stats.js";
import type { Candidate, ResolveRequest } from "../policy/resolve.js";
import type { Routed } from "../policy/routing.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import {
  badRequest,
  type ErrorClass,
  type GatewayError,
  notFound,
  sendError,
  unavailable,
  upstreamFailed,
} from "./answer.js";
import { lacksCapability, ROUTE_CAPABILITY } from "./capability-refusal.js";
import { embeddingsRefusal, heldBack } from "./embed-refusal.js";
import { type ForwardOutcome, forward } from "./forward.js";
import type { GatewayHost } from "./host.js";
import { resolveModelName } from "./model-names.js";
import type { UpstreamTargets } from "./upstream.js";

export type InferenceRoute = "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings";

export const INFERENCE_ROUTES: readonly InferenceRoute[] = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
];

const MODES: readonly ResolveMode[] = ["quick", "balanced", "deep", "verified"];
const RETRY_AFTER_S = 5;

export interface InferenceContext {
  host: GatewayHost;
  spec: HttpSpec;
  /** Requests per model waiting for their runtime to start. */
  waiting: Map<string, number>;
  upstreams: UpstreamTargets;
}

/** What a client that went away before the answer ended is counted as (nginx's "client closed request"). */
export const CLIENT_CLOSED = 499;

type Body = Record<string, unknown>;

function validate(route: InferenceRoute, raw: Buffer): { body: Body } | { error: GatewayError } {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    return {
      error: badRequest(`request body is not valid JSON: ${(error as Error).message}`, "invalid_json"),
    };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { error: badRequest("request body must be a JSON object", "invalid_body") };
  const b = body as Body;
  if (b.model !== undefined && (typeof b.model !== "string" || b.model === ""))
    return { error: badRequest("'model' must be a non-empty string", "invalid_type", "model") };
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== "boolean")
    return { error: badRequest("'stream' must be true or false", "invalid_type", "stream") };
  if (route === "/v1/chat/completions" && (!Array.isArray(b.messages) || b.messages.length === 0))
    return { error: badRequest("'messages' must be a non-empty array", "invalid_value", "messages") };
  if (route === "/v1/completions" && typeof b.prompt !== "string" && !Array.isArray(b.prompt))
    return { error: badRequest("'prompt' must be a string or an array", "invalid_value", "prompt") };
  if (route === "/v1/embeddings" && typeof b.input !== "string" && !Array.isArray(b.input))
    return { error: badRequest("'input' must be a string or an array", "invalid_value", "input") };
  return { body: b };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** A route's needs, one array per route shared by its requests (routing reads it, and copies what it keeps). */
const NEEDS: Readonly<Record<InferenceRoute, string[]>> = {
  "/v1/chat/completions": [ROUTE_CAPABILITY["/v1/chat/completions"]],
  "/v1/completions": [ROUTE_CAPABILITY["/v1/completions"]],
  "/v1/embeddings": [ROUTE_CAPABILITY["/v1/embeddings"]],
};

function resolveRequest(
  req: http.IncomingMessage,
  model: string | undefined,
  route: InferenceRoute,
): ResolveRequest | GatewayError {
  // Each route needs its own capability: an embeddings request never reaches a cell that only chats.
  const r: ResolveRequest = { needs: NEEDS[route] };
  const agent = header(req, "x-rmx-agent");
  const project = header(req, "x-rmx-project");
  const mode = header(req, "x-rmx-mode");
  if (agent !== undefined) r.agent = agent;
  if (project !== undefined) r.project = project;
  if (model !== undefined) r.model = model;
  if (mode !== undefined) {
    if (!(MODES as readonly string[]).includes(mode))
      return badRequest(
        `X-Rmx-Mode must be one of ${MODES.join(", ")}, got "${mode.slice(0, 40)}"`,
        "invalid_mode",
      );
    r.mode = mode as ResolveMode;
  }
  return r;
}

interface CellsToTry {
  readonly refs: readonly CellRef[];
  readonly why: string;
}

/**
 * The cells to try of a decision that serves, per decision: routing hands the same (memoised) decision to
 * every request that asks alike, and the fallback it names is pure over it.
 */
const served = new WeakMap<Routed, CellsToTry>();

/** Cells to try, best first: the routed one, then one other runtime (like chat.respond's single retry). */
function cellsToTry(ctx: InferenceContext, req: ResolveRequest): CellsToTry {
  const routed = ctx.host.routing.route(req);
  const serve = routed.serve;
  if (serve !== undefined) {
    const known = served.get(routed);
    if (known !== undefined) return known;
    const next =
      routed.resolution.ranked.find((r) => r.runtime !== serve.runtime && r.cell !== serve.cell) ??
      routed.resolution.ranked.find((r) => r.runtime !== serve.runtime);
    const tried: CellsToTry = { refs: next === undefined ? [serve] : [serve, next], why: "" };
    served.set(routed, tried);
    return tried;
  }
  // A stopped runtime is "unhealthy" to routing, but the gateway starts it on demand: one passed over
  // only for that (every other check passed) is served after a start.
  const stopped = routed.resolution.passed_over.filter((p) => {
    if (p.why !== "unhealthy" || p.runtime === undefined) return false;
    return ctx.host.routing.runtime(p.runtime)?.state === "stopped";
  });
  const why = routed.resolution.passed_over
    .slice(0, 6)
    .map((p) => `${p.cell}${p.runtime ? ` (runtime ${p.runtime})` : ""}: ${p.why} (${p.detail})`)
    .join("; ");
  return { refs: stopped.slice(0, 2), why: why || "no runtime is configured" };
}

/**
 * Starts a stopped or idle runtime and waits for it, holding a place in the model's bounded queue: the
 * refusal to answer (queue full, start timeout), "failed" when it did not start, undefined when ready.
 */
export async function wake(
  ctx: InferenceContext,
  rt: RuntimeSupervisor,
  model: string,
): Promise<GatewayError | { failed: string } | undefined> {
  if (rt.state === "ready") return undefined;
  const waiting = ctx.waiting.get(model) ?? 0;
  if (waiting >= ctx.spec.queue)
    return unavailable(
      `${waiting} requests already wait for model ${model} to start (http.queue ${ctx.spec.queue})`,
      "queue_full",
      RETRY_AFTER_S,
    );
  ctx.waiting.set(model, waiting + 1);
  try {
    // A stopped runtime is started too (routing passed it over only for being stopped); in a swap group
    // this may first stop the least recently used idle runtime on its GPU, or wait for a busy one.
    await ctx.host.routing.ensureReady(rt, ctx.host.routing.now() + ctx.spec.start_timeout_ms, true);
    return undefined;
  } catch (error) {
    if (error instanceof RmxError && error.code === "TIMEOUT")
      return unavailable(
        `${error.message} (http.start_timeout ${ctx.spec.start_timeout_ms} ms)`,
        "start_timeout",
        RETRY_AFTER_S,
      );
    ctx.host.logger.warn({ runtime: rt.id, err: (error as Error).message }, "on-demand start failed");
    return { failed: (error as Error).message };
  } finally {
    const n = (ctx.waiting.get(model) ?? 1) - 1;
    if (n <= 0) ctx.waiting.delete(model);
    else ctx.waiting.set(model, n);
  }
}

function classOf(outcome: ForwardOutcome): ErrorClass | undefined {
  switch (outcome.kind) {
    case "done":
      return outcome.status >= 500 ? "upstream" : outcome.status >= 400 ? "client" : undefined;
    case "aborted":
      return "aborted";
    case "broken":
      return "upstream";
    case "retry":
      return outcome.timedOut ? "timeout" : "upstream";
    case "refused":
      return "client";
  }
}

/** The HTTP status counted for a forward's outcome (the answer sent, or what the cell answered when retried). */
function codeOf(outcome: ForwardOutcome): number {
  switch (outcome.kind) {
    case "done":
    case "refused":
      return outcome.status;
    case "aborted":
      return CLIENT_CLOSED;
    case "broken":
      return 502;
    case "retry":
      return outcome.status ?? (outcome.timedOut ? 504 : 502);
  }
}

/**
 * The refusal of a model that cannot serve the route, per build of the candidates (routing keeps the array
 * until something changes them): pure over the candidates, so it is worked out once per model and route.
 */
const refusals = new WeakMap<readonly Candidate[], Map<InferenceRoute, Map<string, GatewayError | null>>>();

function capabilityRefusal(
  candidates: readonly Candidate[],
  model: string,
  route: InferenceRoute,
): GatewayError | undefined {
  let byRoute = refusals.get(candidates);
  if (byRoute === undefined) {
    byRoute = new Map();
    refusals.set(candidates, byRoute);
  }
  // By route, then model: no key string built per request. `null` is "serves it", so one lookup answers.
  let byModel = byRoute.get(route);
  if (byModel === undefined) {
    byModel = new Map();
    byRoute.set(route, byModel);
  }
  const known = byModel.get(model);
  if (known !== undefined) return known ?? undefined;
  const lacks = lacksCapability(candidates, model, ROUTE_CAPABILITY[route]);
  // Bounded: `model` is one the candidates serve (resolveModelName), the routes are three.
  byModel.set(model, lacks ?? null);
  return lacks;
}

export async function serveInference(
  ctx: InferenceContext,
  route: InferenceRoute,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  raw: Buffer,
  answerHeaders: Readonly<Record<string, string>>,
  started: number,
): Promise<void> {
  const routing = ctx.host.routing;
  // One record per cell tried; a request that reached no cell is recorded once as it is answered.
  let recorded = false;
  const fail = (e: GatewayError, model = "", cell = "") => {
    sendError(res, e, answerHeaders);
    if (recorded) return;
    routing.observe({ model, cell, route, ms: monotonicMs() - started, code: e.status, error: e.klass });
  };
  const checked = validate(route, raw);
  if ("error" in checked) return fail(checked.error);
  const { body } = checked;
  const asked = body.model as string | undefined;
  const model = asked === undefined ? undefined : resolveModelName(asked, routing, ctx.host.lookupModel);
  if (asked !== undefined && model === undefined) {
    const known = [...new Set(routing.candidates().map((c) => c.cell.model))].sort();
    // Counted under no model: a name the client made up is not a series (nor a Prometheus label).
    return fail(
      notFound(
        `The model '${asked}' does not exist here; models served: ${known.join(", ") || "(none)"}`,
        "model_not_found",
        "model",
      ),
    );
  }
  const lacks = model === undefined ? undefined : capabilityRefusal(routing.candidates(), model, route);
  if (lacks !== undefined) return fail(lacks, model);
  const rr = resolveRequest(req, model, route);
  if ("status" in rr) return fail(rr, model);
  const { refs, why } = cellsToTry(ctx, rr);
  if (refs.length === 0)
    return fail(
      unavailable(`no healthy cell for model ${model ?? "(any)"}: ${why}`, "no_healthy_cell", RETRY_AFTER_S),
      model,
    );
  const streamed = body.stream === true;

  const failures: string[] = [];
  let refusal: { error: GatewayError; model: string; cell: string } | undefined;
  for (const ref of refs) {
    const rt = ref.runtime === undefined ? undefined : routing.runtime(ref.runtime);
    if (rt === undefined) {
      failures.push(`${ref.cell}: runtime ${ref.runtime ?? "?"} is gone`);
      continue;
    }
    const place = routing.placeOf(rt);
    const end = routing.begin(rt.id);
    let outcome: ForwardOutcome;
    try {
      // A ready runtime (nearly every request) needs no wake: no async call, no promise to wait on.
      const woke = rt.state === "ready" ? undefined : await wake(ctx, rt, place.model);
      if (woke !== undefined && "failed" in woke) {
        failures.push(`${ref.cell}: runtime ${rt.id} did not start (state ${rt.state})`);
        continue;
      }
      if (woke !== undefined) return fail(woke, place.model, ref.cell);
      if (res.destroyed) {
        recorded = true;
        routing.observe({
          model: place.model,
          cell: place.key,
          route,
          ms: monotonicMs() - started,
          code: CLIENT_CLOSED,
          error: "aborted",
        });
        return;
      }
      const target = ctx.upstreams.get(rt, route);
      if (target === undefined) {
        failures.push(`${ref.cell}: runtime ${rt.id} has no endpoint (state ${rt.state})`);
        continue;
      }
      // An endpoint rmxd does not launch serves models by their own names: ask for the one configured;
      // one it launches gets the client's bytes as they came (parsed once above, never re-serialised).
      const payload = !getAdapter(rt.spec.adapter).spawns
        ? Buffer.from(JSON.stringify({ ...body, model: rt.spec.model ?? place.model }), "utf8")
        : raw;
      outcome = await forward(
        res,
        {
          target,
          body: payload,
          idleTimeoutMs: ctx.spec.upstream_timeout_ms,
          answerHeaders,
          cell: ref.cell,
        },
        (status) => status < 400 || (status < 500 && !(route === "/v1/embeddings" && heldBack(status))),
      );
    } finally {
      end();
    }
    const ms = monotonicMs() - started;
    const klass = classOf(outcome);
    recorded = true;
    // Time to first token: the first chunk of a stream; a plain answer's whole duration.
    const ttftMs =
      klass !== undefined ? undefined : streamed && outcome.kind === "done" ? outcome.ttfbMs : ms;
    // Under the runtime's cell key, as routing looks its p95 up (the same key the client sees).
    // Built in place, not spread: no throwaway objects per request.
    const observed: ObservedRequest = {
      model: place.model,
      cell: place.key,
      route,
      ms,
      code: codeOf(outcome),
    };
    if (ttftMs !== undefined) observed.ttftMs = ttftMs;
    if (klass !== undefined) observed.error = klass;
    routing.observe(observed);
    if (outcome.kind === "retry") {
      failures.push(`${ref.cell}: ${outcome.message}`);
      continue;
    }
    if (outcome.kind === "refused") {
      // Only /v1/embeddings holds answers back: a cell that cannot embed lets the next cell try.
      const r = embeddingsRefusal(outcome.status, outcome.body, ref.cell, rt.id);
      if (!r.cellCannotEmbed) return fail(r.error, place.model, ref.cell);
      refusal ??= { error: r.error, model: place.model, cell: ref.cell };
      failures.push(`${ref.cell}: ${r.error.message}`);
      continue;
    }
    return;
  }
  if (refusal !== undefined) return fail(refusal.error, refusal.model, refusal.cell);
  fail(upstreamFailed(`every cell tried failed: ${failures.join("; then ")}`), model);
}
