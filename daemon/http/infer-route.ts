/**
 * `POST /v2/models/{name}/infer` on the gateway: a KServe v2 request forwarded through the matrix (the same
 * `infer` as the socket's `infer.respond`: routing, waking, counting), its answer in KServe's shape and its
 * errors as KServe's `{"error": "..."}`: 400 for a bad request (ours or the backend's words), 404 when no cell
 * serves that model for `infer`, 502/504 when the backend fails or does not answer in time.
 */
import type http from "node:http";
import { RmxError } from "../../base/errors.js";
import type { InferResult } from "../../ipc/protocol/infer.js";
import { describeParamsError } from "../../ipc/protocol/params-error.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";
import type { InferInput } from "../policy/infer.js";
import { sendJson } from "./answer.js";
import { readBody } from "./body.js";
import type { Route } from "./observability-host.js";

export const INFER_PATH = /^\/v2\/models\/([^/]+)\/infer$/;

export interface InferRouteDeps {
  infer(input: InferInput): Promise<InferResult>;
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

export function inferRoute(deps: InferRouteDeps): Route {
  return {
    method: "POST",
    path: INFER_PATH,
    auth: "token",
    async handle(req: http.IncomingMessage, res: http.ServerResponse) {
      const path = (req.url ?? "").split("?")[0] ?? "";
      const raw = INFER_PATH.exec(path)?.[1] ?? "";
      let model: string;
      try {
        model = decodeURIComponent(raw);
      } catch {
        return sendJson(res, 400, {
          error: `model name "${raw.slice(0, 100)}" is not valid percent-encoding`,
        });
      }
      const body = await readBody(req, deps.maxBodyBytes, deps.bodyTimeoutMs);
      if (!body.ok)
        return sendJson(res, body.error.status, { error: body.error.message }, { connection: "close" });
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.body.toString("utf8"));
      } catch (error) {
        return sendJson(res, 400, { error: `the body is not JSON: ${(error as Error).message}` });
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        return sendJson(res, 400, { error: "the body must be a JSON object with an `inputs` array" });
      const { id, parameters: _parameters, ...rest } = parsed as Record<string, unknown>;
      const params = { ...rest, model };
      const checked = paramSchemas["infer.respond"].safeParse(params);
      if (!checked.success)
        return sendJson(res, 400, {
          error: describeParamsError(checked.error, params).message.replace(/^params\./, ""),
        });
      try {
        const r = await deps.infer(checked.data as InferInput);
        sendJson(res, 200, {
          model_name: r.model_name,
          ...(r.model_version !== undefined ? { model_version: r.model_version } : {}),
          ...(typeof id === "string" ? { id } : {}),
          outputs: r.outputs,
        });
      } catch (error) {
        const failure = inferFailure(error);
        sendJson(res, failure.status, { error: failure.message });
      }
    },
  };
}
