/**
 * One KServe v2 inference against a backend (rmxd's ONNX server or Triton): `POST /v2/models/{name}/infer`
 * with JSON tensors. A 4xx keeps the backend's own `error` text and status (the caller's request was wrong);
 * anything else that is not a 200 with `outputs` is BACKEND_FAILED.
 */
import { RmxError } from "../../base/errors.js";
import { monotonicMs } from "../../base/monotonic.js";
import { httpRequest } from "../shared/http.js";

/** One KServe v2 JSON tensor; `data` is flat (row-major) or nested to the shape. */
export interface InferTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

export interface InferRequest {
  inputs: InferTensor[];
  outputs?: { name: string }[];
}

export interface InferReply {
  model_name: string;
  model_version?: string;
  outputs: InferTensor[];
  latency_ms: number;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat || "(empty body)";
}

function errorOf(body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: unknown }).error;
    if (typeof e === "string") return e;
  } catch {}
  return excerpt(body);
}

/** Throws BACKEND_FAILED (`data.status`: the backend's HTTP status) or TIMEOUT. */
export async function postInfer(
  endpoint: string,
  modelName: string,
  request: InferRequest,
  timeoutMs: number,
): Promise<InferReply> {
  const url = `${endpoint.replace(/\/+$/, "")}/v2/models/${encodeURIComponent(modelName)}/infer`;
  const started = monotonicMs();
  const result = await httpRequest(url, {
    method: "POST",
    body: JSON.stringify(request),
    headers: { "content-type": "application/json" },
    timeoutMs,
  });
  if (result.kind !== "response")
    throw new RmxError(result.kind === "timeout" ? "TIMEOUT" : "BACKEND_FAILED", result.message, {
      url,
      reason: result.kind,
    });
  if (result.status !== 200)
    throw new RmxError(
      "BACKEND_FAILED",
      `POST ${url} answered HTTP ${result.status}: ${errorOf(result.body)}`,
      {
        url,
        status: result.status,
        backend_error: errorOf(result.body),
      },
    );
  let reply: Partial<InferReply>;
  try {
    reply = JSON.parse(result.body) as Partial<InferReply>;
  } catch {
    throw new RmxError("BACKEND_FAILED", `POST ${url}: answer is not JSON: ${excerpt(result.body)}`, { url });
  }
  if (!Array.isArray(reply.outputs))
    throw new RmxError(
      "BACKEND_FAILED",
      `POST ${url}: answer has no \`outputs\` array: ${excerpt(result.body)}`,
      { url },
    );
  return {
    model_name: typeof reply.model_name === "string" ? reply.model_name : modelName,
    ...(typeof reply.model_version === "string" ? { model_version: reply.model_version } : {}),
    outputs: reply.outputs,
    latency_ms: Math.round((monotonicMs() - started) * 10) / 10,
  };
}
