/**
 * POST /v1/audio/transcriptions in OpenAI's shape: a multipart/form-data upload (`file`, `model`, optional
 * `response_format`, `language`, `prompt`, `temperature`) parsed as it arrives under `http.max_upload`,
 * `model` resolved through the matrix with the `transcription` capability, a stopped or idle whisper runtime
 * started on demand from the model's bounded queue, the answer in the asked format. X-Rmx-Cell names the
 * cell that served. The gateway's guard (token, Host, Origin) has run before this is called.
 */
import type http from "node:http";
import { RESPONSE_FORMATS, type ResponseFormat } from "../../adapters/whisper-cpp/transcribe-backend.js";
import { isRmxError } from "../../base/errors.js";
import { monotonicMs } from "../../base/monotonic.js";
import type { CellRef } from "../../ipc/protocol/policy.js";
import type { ResolveRequest } from "../policy/resolve.js";
import { TRANSCRIBE_ROUTE, transcribeOn } from "../policy/transcribe.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import { badRequest, type GatewayError, notFound, sendError, unavailable, upstreamFailed } from "./answer.js";
import { aborted } from "./body.js";
import { CLIENT_CLOSED, type InferenceContext, wake } from "./inference.js";
import { resolveModelName } from "./model-names.js";
import { boundaryOf, type FormPart, MultipartError, MultipartParser } from "./multipart-stream.js";

export const TRANSCRIPTIONS_ROUTE = TRANSCRIBE_ROUTE;
const RETRY_AFTER_S = 5;
/** model, language, prompt, …: OpenAI caps a prompt at 224 tokens; 64 KiB is far beyond any real field. */
const MAX_FIELD_BYTES = 64 * 1024;

export interface TranscriptionForm {
  audio: Buffer;
  filename: string;
  model: string;
  response_format: ResponseFormat;
  language?: string;
  prompt?: string;
  temperature?: number;
}

class Refusal extends Error {
  constructor(readonly answer: GatewayError) {
    super(answer.message);
  }
}

const tooLarge = (message: string, param?: string): GatewayError => ({
  status: 413,
  type: "invalid_request_error",
  code: "upload_too_large",
  message,
  klass: "client",
  ...(param === undefined ? {} : { param }),
});

/** Reads and parses the upload; a Refusal names the first limit or rule it broke. */
export function readForm(req: http.IncomingMessage, maxBytes: number, idleMs: number): Promise<FormPart[]> {
  const type = req.headers["content-type"];
  const boundary = boundaryOf(type);
  if (boundary === undefined) {
    const why = /^\s*multipart\/form-data/i.test(type ?? "")
      ? "its Content-Type has no boundary parameter"
      : `its Content-Type is ${type === undefined ? "missing" : `"${type.slice(0, 80)}"`}`;
    return Promise.reject(
      new Refusal(
        badRequest(
          `${TRANSCRIPTIONS_ROUTE} takes multipart/form-data with a boundary (file, model): ${why}`,
          "missing_boundary",
        ),
      ),
    );
  }
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes)
    return Promise.reject(
      new Refusal(
        tooLarge(`the upload is ${declared} bytes, more than ${maxBytes} bytes (http.max_upload)`, "file"),
      ),
    );
  const parser = new MultipartParser(boundary, { maxBytes, maxFieldBytes: MAX_FIELD_BYTES });
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (error: unknown, parts?: FormPart[]) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAborted);
      req.off("aborted", onAborted);
      if (error === undefined) resolve(parts ?? []);
      else reject(error instanceof MultipartError ? new Refusal(refusalOf(error)) : error);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new Refusal({
              status: 408,
              type: "invalid_request_error",
              code: "body_timeout",
              message: `upload stalled: no data for ${idleMs} ms (http.body_timeout)`,
              klass: "client",
            }),
          ),
        idleMs,
      );
    };
    const onData = (chunk: Buffer) => {
      try {
        parser.push(chunk);
        arm();
      } catch (error) {
        finish(error);
      }
    };
    const onEnd = () => {
      try {
        finish(undefined, parser.end());
      } catch (error) {
        finish(error);
      }
    };
    // A client that goes away mid-upload sent a truncated body; there is nobody to answer.
    const onAborted = () => finish(new Refusal(aborted("upload aborted")));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAborted);
    req.on("aborted", onAborted);
    arm();
  });
}

function refusalOf(e: MultipartError): GatewayError {
  if (e.code === "upload_too_large") return tooLarge(e.message, e.param);
  return badRequest(e.message, e.code, e.param);
}

function text(parts: FormPart[], name: string): string | undefined {
  const p = parts.find((x) => x.name === name && x.filename === undefined);
  return p?.data.toString("utf8");
}

/** The form's fields checked, each refusal naming its field and value. */
export function checkForm(parts: FormPart[]): TranscriptionForm | GatewayError {
  const file = parts.find((p) => p.name === "file");
  if (file === undefined || file.filename === undefined)
    return badRequest(
      file === undefined
        ? "missing the 'file' field: the audio to transcribe, as a file part"
        : "'file' must be a file part (with a filename), not a text field",
      "missing_file",
      "file",
    );
  if (file.data.length === 0) return badRequest("'file' is empty", "empty_file", "file");
  const model = text(parts, "model")?.trim();
  if (model === undefined || model === "")
    return badRequest("missing the 'model' field: a model that transcribes", "missing_model", "model");
  const format = text(parts, "response_format")?.trim() || "json";
  if (!(RESPONSE_FORMATS as readonly string[]).includes(format))
    return badRequest(
      `response_format '${format.slice(0, 40)}' is not supported; use one of ${RESPONSE_FORMATS.join(", ")}`,
      "invalid_response_format",
      "response_format",
    );
  const form: TranscriptionForm = {
    audio: file.data,
    filename: file.filename || "audio.wav",
    model,
    response_format: format as ResponseFormat,
  };
  const language = text(parts, "language")?.trim();
  if (language !== undefined && language !== "") {
    if (!/^[A-Za-z]{2,3}(-[A-Za-z]{2,4})?$|^auto$/.test(language))
      return badRequest(
        `language '${language.slice(0, 40)}' is not an ISO-639-1 code (e.g. en) or auto`,
        "invalid_language",
        "language",
      );
    form.language = language;
  }
  const prompt = text(parts, "prompt");
  if (prompt !== undefined && prompt !== "") form.prompt = prompt;
  const temperature = text(parts, "temperature")?.trim();
  if (temperature !== undefined && temperature !== "") {
    const t = Number(temperature);
    if (!Number.isFinite(t) || t < 0 || t > 1)
      return badRequest(
        `temperature '${temperature.slice(0, 40)}' must be a number from 0 to 1`,
        "invalid_temperature",
        "temperature",
      );
    form.temperature = t;
  }
  return form;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

type Target = { ref: CellRef; rt: RuntimeSupervisor };

/** The cell that transcribes for `model`: routed, or a stopped one passed over only for being stopped. */
function chooseTarget(
  ctx: InferenceContext,
  req: http.IncomingMessage,
  model: string,
): Target | GatewayError {
  const routing = ctx.host.routing;
  const own = routing.candidates().filter((c) => c.cell.model === model);
  if (own.length > 0 && !own.some((c) => c.capabilities.includes("transcription"))) {
    const offers = [...new Set(own.flatMap((c) => c.capabilities))].sort().join(", ") || "nothing";
    const able = modelsThatTranscribe(routing);
    return badRequest(
      `the model '${model}' cannot transcribe (its cells offer ${offers}); models that transcribe: ${able.join(", ") || "(none)"}`,
      "model_cannot_transcribe",
      "model",
    );
  }
  const r: ResolveRequest = { model, needs: ["transcription"] };
  const agent = header(req, "x-rmx-agent");
  const project = header(req, "x-rmx-project");
  if (agent !== undefined) r.agent = agent;
  if (project !== undefined) r.project = project;
  const routed = routing.route(r);
  const stopped = routed.resolution.passed_over.find(
    (p) =>
      p.why === "unhealthy" && p.runtime !== undefined && routing.runtime(p.runtime)?.state === "stopped",
  );
  const ref = routed.serve ?? stopped;
  const rt = ref?.runtime === undefined ? undefined : routing.runtime(ref.runtime);
  if (ref !== undefined && rt !== undefined) return { ref, rt };
  const why = routed.resolution.passed_over
    .slice(0, 6)
    .map((p) => `${p.cell}${p.runtime ? ` (runtime ${p.runtime})` : ""}: ${p.why} (${p.detail})`)
    .join("; ");
  return unavailable(
    `no healthy cell transcribes with model ${model}: ${why || "no runtime is configured"}`,
    "no_healthy_cell",
    RETRY_AFTER_S,
  );
}

/** The models some cell can transcribe with, for the refusals' hints. */
function modelsThatTranscribe(routing: InferenceContext["host"]["routing"]): string[] {
  const able = routing.candidates().filter((c) => c.capabilities.includes("transcription"));
  return [...new Set(able.map((c) => c.cell.model))].sort();
}

/** `wake`, its refusals thrown (transcribeOn's wake resolves or throws). */
async function wakeOrRefuse(ctx: InferenceContext, rt: RuntimeSupervisor, model: string): Promise<void> {
  const woke = await wake(ctx, rt, model);
  if (woke === undefined) return;
  if ("failed" in woke) throw new Refusal(upstreamFailed(`runtime ${rt.id} did not start: ${woke.failed}`));
  throw new Refusal(woke);
}

export async function serveTranscriptions(
  ctx: InferenceContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  cors: Record<string, string>,
): Promise<void> {
  const started = monotonicMs();
  const route = TRANSCRIPTIONS_ROUTE;
  let model = "";
  let cell = "";
  const fail = (e: GatewayError, headers: Record<string, string> = {}) => {
    sendError(res, e, { ...cors, ...headers });
    ctx.host.routing.observe({
      model,
      cell,
      route,
      ms: monotonicMs() - started,
      code: e.status,
      error: e.klass,
    });
  };
  try {
    if (req.method !== "POST") {
      req.resume();
      return fail(
        {
          status: 405,
          type: "invalid_request_error",
          code: "method_not_allowed",
          message: `${route} takes POST`,
          klass: "client",
        },
        { allow: "POST" },
      );
    }
    let parts: FormPart[];
    try {
      parts = await readForm(req, ctx.spec.max_upload_bytes, ctx.spec.body_timeout_ms);
    } catch (error) {
      // The rest of the body is not read: the connection cannot carry another request.
      if (error instanceof Refusal) return fail(error.answer, { connection: "close" });
      throw error;
    }
    const form = checkForm(parts);
    if ("status" in form) return fail(form);
    const routing = ctx.host.routing;
    const resolved = resolveModelName(form.model, routing, ctx.host.lookupModel);
    if (resolved === undefined) {
      model = form.model;
      const able = modelsThatTranscribe(routing);
      return fail(
        notFound(
          `The model '${form.model.slice(0, 200)}' does not exist here; models that transcribe: ${able.join(", ") || "(none)"}`,
          "model_not_found",
          "model",
        ),
      );
    }
    model = resolved;
    const target = chooseTarget(ctx, req, resolved);
    if ("status" in target) return fail(target);
    cell = target.ref.cell;
    const place = routing.placeOf(target.rt);
    model = place.model;
    let reply: Awaited<ReturnType<typeof transcribeOn>>;
    try {
      reply = await transcribeOn(
        routing,
        { cell, rt: target.rt },
        {
          audio: form.audio,
          filename: form.filename,
          response_format: form.response_format,
          ...(form.language !== undefined ? { language: form.language } : {}),
          ...(form.prompt !== undefined ? { prompt: form.prompt } : {}),
          ...(form.temperature !== undefined ? { temperature: form.temperature } : {}),
        },
        routing.now() + ctx.spec.start_timeout_ms + ctx.spec.upstream_timeout_ms,
        (rt) => wakeOrRefuse(ctx, rt, place.model),
      );
    } catch (error) {
      if (error instanceof Refusal) return fail(error.answer, { "x-rmx-cell": cell });
      if (isRmxError(error)) return fail(upstreamFailed(error.message), { "x-rmx-cell": cell });
      throw error;
    }
    if (res.destroyed) {
      ctx.host.routing.observe({
        model,
        cell,
        route,
        ms: monotonicMs() - started,
        code: CLIENT_CLOSED,
        error: "aborted",
      });
      return;
    }
    res.writeHead(200, {
      ...cors,
      "content-type":
        reply.content_type === "application/json" ? "application/json; charset=utf-8" : reply.content_type,
      "content-length": String(Buffer.byteLength(reply.body)),
      "x-rmx-cell": cell,
    });
    res.end(reply.body);
    const ms = monotonicMs() - started;
    ctx.host.routing.observe({ model, cell, route, ms, code: 200, ttftMs: ms });
  } catch (error) {
    ctx.host.logger.error({ err: error, route }, "HTTP gateway request failed");
    if (res.headersSent) res.destroy();
    else
      fail({
        status: 500,
        type: "server_error",
        code: "internal",
        message: (error as Error).message,
        klass: "upstream",
      });
  } finally {
    ctx.host.onCounted();
  }
}
