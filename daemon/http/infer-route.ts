/**
 * `POST /v2/models/{name}/infer` on the gateway: a KServe v2 request forwarded through the matrix (the same
 * `infer` as the socket's `infer.respond`: routing, waking), its answer in KServe's shape and its errors as
 * KServe's `{"error": "..."}`: 400 for a bad request (ours or the backend's words), 404 when no cell serves
 * that model for `infer`, 502/504 when the backend fails or does not answer in time. Every answer is
 * recorded once, through `observe`, with the HTTP status it had (never also through `record`, which the
 * socket path uses).
 */
import type http from "node:http";
import { RmxError } from "../../base/errors.js";
import { monotonicMs } from "../../base/monotonic.js";
import type { ErrorClass } from "../../ipc/protocol/gateway.js";
import type { InferResult } from "../../ipc/protocol/infer.js";
import { describeParamsError } from "../../ipc/protocol/params-error.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";
import { INFER_ROUTE, type InferHost, type InferInput, type InferTarget, infer } from "../policy/infer.js";
import type { ObservedRequest } from "../policy/request-stats.js";
import { sendJson } from "./answer.js";
import { readBody } from "./body.js";
import { CLIENT_CLOSED } from "./inference.js";
import type { Route } from "./observability-host.js";

export const INFER_PATH = /^\/v2\/models\/([^/]+)\/infer$/;

export interface InferRouteDeps {
  /** Policy's `serving()`: routing and waking; its `record` is not used here (see `observe`). */
  routing: InferHost & { observe(request: ObservedRequest): void };
  maxBodyBytes: number;
  bodyTimeoutMs: number;
}

/** The HTTP status and KServe error text of a failed `infer`. */
export function inferFailure(error: unknown): { status: number; message: string } {
  if (!(error instanceof RmxError)) return { status: 500, message: (error as Error).message };
  const backendStatus = error.data?.status;
  if (
    error.code === "BACKEND_FAILED" &&
    typeof backendStatus === "number" &&
    backendStatus >= 400 &&
    backendStatus < 500
  )
    return { status: backendStatus, message: String(error.data?.backend_error ?? error.message) };
  if (error.code === "NO_ELIGIBLE_CELL") return { status: 404, message: error.message };
  if (error.code === "TIMEOUT") return { status: 504, message: error.message };
  if (error.code === "CONFIG_INVALID") return { status: 400, message: error.message };
  return { status: 502, message: error.message };
}

/** The error class an answer's status is counted under. */
function classOfStatus(status: number): ErrorClass {
  if (status === 401 || status === 403) return "auth";
  if (status === 404) return "not_found";
  if (status === 503) return "unavailable";
  if (status === 504) return "timeout";
  if (status === CLIENT_CLOSED) return "aborted";
  return status < 500 ? "client" : "upstream";
}

export function inferRoute(deps: InferRouteDeps): Route {
  const { route, runtime, placeOf, ensureReady, begin, now, observe } = deps.routing;
  // No `record`: this route counts each request itself, once, with its HTTP status.
  const host: InferHost = { route, runtime, placeOf, ensureReady, begin, now };
  return {
    method: "POST",
    path: INFER_PATH,
    auth: "token",
    async handle(req: http.IncomingMessage, res: http.ServerResponse) {
      const started = monotonicMs();
      const path = (req.url ?? "").split("?")[0] ?? "";
      const raw = INFER_PATH.exec(path)?.[1] ?? "";
      const target: InferTarget = { cell: "", model: raw };
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        sendJson(res, status, body, headers);
        const ms = monotonicMs() - started;
        const request: ObservedRequest = {
          model: target.model,
          cell: target.cell,
          route: INFER_ROUTE,
          ms,
          code: status,
        };
        if (status === 200) request.ttftMs = ms;
        else request.error = classOfStatus(status);
        observe(request);
      };
      try {
        target.model = decodeURIComponent(raw);
      } catch {
        return answer(400, { error: `model name "${raw.slice(0, 100)}" is not valid percent-encoding` });
      }
      const body = await readBody(req, deps.maxBodyBytes, deps.bodyTimeoutMs);
      if (!body.ok) return answer(body.error.status, { error: body.error.message }, { connection: "close" });
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.body.toString("utf8"));
      } catch (error) {
        return answer(400, { error: `the body is not JSON: ${(error as Error).message}` });
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        return answer(400, { error: "the body must be a JSON object with an `inputs` array" });
      const { id, parameters: _parameters, ...rest } = parsed as Record<string, unknown>;
      const params = { ...rest, model: target.model };
      const checked = paramSchemas["infer.respond"].safeParse(params);
      if (!checked.success)
        return answer(400, {
          error: describeParamsError(checked.error, params).message.replace(/^params\./, ""),
        });
      let r: InferResult;
      try {
        r = await infer(host, checked.data as InferInput, (t) => {
          target.cell = t.cell;
          target.model = t.model;
        });
      } catch (error) {
        const failure = inferFailure(error);
        return answer(failure.status, { error: failure.message });
      }
      if (res.destroyed) return answer(CLIENT_CLOSED, {});
      answer(200, {
        model_name: r.model_name,
        ...(r.model_version !== undefined ? { model_version: r.model_version } : {}),
        ...(typeof id === "string" ? { id } : {}),
        outputs: r.outputs,
      });
    },
  };
}
