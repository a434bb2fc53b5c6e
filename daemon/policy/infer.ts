/**
 * Tensor inference through the matrix: route to a cell that serves `infer` (onnxruntime, Triton), wake its
 * runtime if it sleeps, post the KServe v2 request, count it. The socket's `infer.respond` calls it, and so
 * does the HTTP gateway's `POST /v2/models/{name}/infer`, with the same host (`Policy.serving()`), so pins,
 * leases, on-demand start and idle_ttl agree with chat and transcription.
 */
import { kserveModelName } from "../../adapters/onnxruntime/adapter.js";
import { postInfer } from "../../adapters/onnxruntime/infer-backend.js";
import { RmxError } from "../../base/errors.js";
import type { InferResult, InferTensor } from "../../ipc/protocol/infer.js";
import type { ChatHost } from "./chat.js";
import type { ResolveRequest } from "./resolve.js";
import { noEligibleCell } from "./routing.js";

export const INFER_ROUTE = "/v2/models/{name}/infer";
export const DEFAULT_INFER_TIMEOUT_MS = 60_000;

/**
 * Without `record` the caller counts the request itself: the gateway records each `POST
 * /v2/models/{name}/infer` once, through `observe`, with the HTTP status it answered (refusals too).
 */
export type InferHost = Pick<ChatHost, "route" | "runtime" | "placeOf" | "ensureReady" | "begin" | "now"> &
  Partial<Pick<ChatHost, "record">>;

/** Where a request went, once it was routed: the gateway names them when it records the answer. */
export interface InferTarget {
  cell: string;
  model: string;
}

export interface InferInput {
  model: string;
  inputs: InferTensor[];
  outputs?: { name: string }[];
  agent?: string;
  project?: string;
  timeout_ms?: number;
}

/** Throws NO_ELIGIBLE_CELL, BACKEND_FAILED (with the backend's status and `error`), TIMEOUT. */
export async function infer(
  host: InferHost,
  input: InferInput,
  onTarget?: (target: InferTarget) => void,
): Promise<InferResult> {
  const deadline = host.now() + (input.timeout_ms ?? DEFAULT_INFER_TIMEOUT_MS);
  const req: ResolveRequest = { needs: ["infer"], model: input.model };
  if (input.agent !== undefined) req.agent = input.agent;
  if (input.project !== undefined) req.project = input.project;
  const routed = host.route(req);
  const ref = routed.serve;
  if (ref === undefined) throw noEligibleCell(req, routed);
  const rt = ref.runtime === undefined ? undefined : host.runtime(ref.runtime);
  if (rt === undefined)
    throw new RmxError(
      "BACKEND_FAILED",
      `infer.respond: runtime ${ref.runtime ?? "?"} of ${ref.cell} is gone`,
      {
        cell: ref.cell,
      },
    );
  const place = host.placeOf(rt);
  onTarget?.({ cell: ref.cell, model: place.model });
  const end = host.begin(rt.id);
  const started = host.now();
  let ok = false;
  try {
    await host.ensureReady(rt, deadline);
    const endpoint = rt.endpoint;
    if (endpoint === undefined)
      throw new RmxError(
        "BACKEND_FAILED",
        `infer.respond: runtime ${rt.id} has no endpoint (state ${rt.state})`,
        {
          runtime: rt.id,
        },
      );
    const reply = await postInfer(
      endpoint,
      kserveModelName(rt.spec),
      { inputs: input.inputs, ...(input.outputs !== undefined ? { outputs: input.outputs } : {}) },
      Math.max(1, deadline - host.now()),
    );
    ok = true;
    return { ...reply, cell: ref.cell, runtime: rt.id, model: place.model };
  } finally {
    end();
    host.record?.(place.key, host.now() - started, ok, INFER_ROUTE);
  }
}
