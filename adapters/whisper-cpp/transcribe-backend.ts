/**
 * One transcription against a whisper-server: the upload as multipart `file` + `response_format` (+ `language`),
 * its answer classified (whisper-server reports most failures as 200 `{"error": …}`), and the exchange counted
 * in the recorder so the cell's throughput is audio seconds per wall second.
 */
import { RmxError } from "../../base/errors.js";
import { monotonicMs } from "../../base/monotonic.js";
import { httpRequest } from "../shared/http.js";
import { INFERENCE_PATH } from "./adapter.js";
import { buildMultipart, type FormField } from "./multipart.js";
import { type TranscriptionRecorder, transcriptions } from "./recorder.js";
import { wavDurationSeconds } from "./wav.js";

/** whisper-server's formats (an unknown one falls back to json there; rmxd refuses it instead). */
export const RESPONSE_FORMATS = ["json", "verbose_json", "text", "srt", "vtt"] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

export interface TranscriptionInput {
  audio: Buffer;
  filename: string;
  response_format: ResponseFormat;
  language?: string;
  /** Text that conditions the decoder (whisper-server's `prompt`). */
  prompt?: string;
  /** Sampling temperature, 0 to 1 (whisper-server's `temperature`). */
  temperature?: number;
}

export interface TranscriptionReply {
  /** What whisper-server answered, as it answered it (`content_type` is its own, e.g. text/vtt). */
  content_type: string;
  body: string;
  /** Audio length when known (WAV header, else verbose_json's `duration`). */
  audio_seconds?: number;
  latency_ms: number;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat || "(empty body)";
}

function durationOf(input: TranscriptionInput, body: string): number | undefined {
  const fromWav = wavDurationSeconds(input.audio);
  if (fromWav !== undefined) return fromWav;
  if (input.response_format !== "verbose_json") return undefined;
  try {
    const d = (JSON.parse(body) as { duration?: unknown }).duration;
    return typeof d === "number" && Number.isFinite(d) && d >= 0 ? d : undefined;
  } catch {
    return undefined;
  }
}

/** Throws RmxError BACKEND_FAILED (with whisper-server's own words) or TIMEOUT. */
export async function postTranscription(
  endpoint: string,
  input: TranscriptionInput,
  timeoutMs: number,
  recorder: TranscriptionRecorder = transcriptions,
): Promise<TranscriptionReply> {
  const base = endpoint.replace(/\/+$/, "");
  const url = `${base}${INFERENCE_PATH}`;
  const fields: FormField[] = [
    { name: "file", filename: input.filename, data: input.audio },
    { name: "response_format", value: input.response_format },
  ];
  if (input.language !== undefined) fields.push({ name: "language", value: input.language });
  if (input.prompt !== undefined) fields.push({ name: "prompt", value: input.prompt });
  if (input.temperature !== undefined) fields.push({ name: "temperature", value: String(input.temperature) });
  const form = buildMultipart(fields);
  const done = recorder.begin(base);
  const started = monotonicMs();
  const result = await httpRequest(url, {
    method: "POST",
    body: form.body,
    headers: { "content-type": form.contentType, accept: "*/*" },
    timeoutMs,
  });
  const wall = (monotonicMs() - started) / 1000;
  if (result.kind !== "response") {
    done({ wall_seconds: wall, ok: false });
    throw new RmxError(result.kind === "timeout" ? "TIMEOUT" : "BACKEND_FAILED", result.message, {
      url,
      reason: result.kind,
    });
  }
  const failure = classify(result.status, result.body, input.response_format);
  if (failure !== undefined) {
    done({ wall_seconds: wall, ok: false });
    throw new RmxError("BACKEND_FAILED", `POST ${url}: ${failure}`, { url, status: result.status });
  }
  const audio = durationOf(input, result.body);
  done({ wall_seconds: wall, ok: true, ...(audio !== undefined ? { audio_seconds: audio } : {}) });
  return {
    content_type: contentTypeOf(input.response_format),
    body: result.body,
    ...(audio !== undefined ? { audio_seconds: audio } : {}),
    latency_ms: Math.round(wall * 10000) / 10,
  };
}

/** The content type whisper-server sends for each format, except `text`, which it mislabels text/html. */
function contentTypeOf(format: ResponseFormat): string {
  switch (format) {
    case "text":
      return "text/plain; charset=utf-8";
    case "srt":
      return "application/x-subrip";
    case "vtt":
      return "text/vtt";
    default:
      return "application/json";
  }
}

function classify(status: number, body: string, format: ResponseFormat): string | undefined {
  if (status !== 200) return `whisper-server answered HTTP ${status}: ${excerpt(body)}`;
  // A failure is JSON `{"error": …}` whatever format was asked for.
  if (body.startsWith("{")) {
    try {
      const value = JSON.parse(body) as { error?: unknown; text?: unknown };
      if (typeof value.error === "string") return `whisper-server said: ${value.error}`;
      if ((format === "json" || format === "verbose_json") && typeof value.text !== "string")
        return `answer has no \`text\` string: ${excerpt(body)}`;
    } catch {
      if (format === "json" || format === "verbose_json") return `answer is not JSON: ${excerpt(body)}`;
    }
  } else if (format === "json" || format === "verbose_json") {
    return `answer is not JSON: ${excerpt(body)}`;
  }
  return undefined;
}
