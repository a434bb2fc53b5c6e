/**
 * Transcription through the matrix: route to a cell that serves `transcription` (whisper.cpp), wake its runtime
 * if it sleeps, post the audio, count the request. The socket's `transcribe.respond` calls it; so can the HTTP
 * gateway, with the same host (`Policy.serving()`), so pins, leases, on-demand start and idle_ttl agree.
 */
import { postTranscription, type TranscriptionInput } from "../../adapters/whisper-cpp/transcribe-backend.js";
import { RmxError } from "../../base/errors.js";
import { MAX_AUDIO_BYTES, type TranscribeResult } from "../../ipc/protocol/transcribe.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import type { ChatHost } from "./chat.js";
import type { ResolveRequest } from "./resolve.js";
import { noEligibleCell } from "./routing.js";

export const TRANSCRIBE_ROUTE = "/v1/audio/transcriptions";
export const DEFAULT_TRANSCRIBE_TIMEOUT_MS = 300_000;

export type TranscribeHost = Pick<
  ChatHost,
  "route" | "runtime" | "placeOf" | "ensureReady" | "begin" | "record" | "now"
>;

export interface TranscribeInput extends TranscriptionInput {
  model?: string;
  agent?: string;
  project?: string;
  timeout_ms?: number;
}

/** Throws NO_ELIGIBLE_CELL, BACKEND_FAILED (whisper-server's own words), TIMEOUT, CONFIG_INVALID (audio size). */
export async function transcribe(host: TranscribeHost, input: TranscribeInput): Promise<TranscribeResult> {
  if (input.audio.length === 0 || input.audio.length > MAX_AUDIO_BYTES) {
    throw new RmxError(
      "CONFIG_INVALID",
      `transcribe.respond: audio of ${input.audio.length} bytes is outside 1 to ${MAX_AUDIO_BYTES} bytes`,
      { field: "audio_base64", bytes: input.audio.length, limit: MAX_AUDIO_BYTES },
    );
  }
  const deadline = host.now() + (input.timeout_ms ?? DEFAULT_TRANSCRIBE_TIMEOUT_MS);
  const req: ResolveRequest = { needs: ["transcription"] };
  if (input.model !== undefined) req.model = input.model;
  if (input.agent !== undefined) req.agent = input.agent;
  if (input.project !== undefined) req.project = input.project;
  const routed = host.route(req);
  const ref = routed.serve;
  if (ref === undefined) throw noEligibleCell(req, routed);
  const rt = ref.runtime === undefined ? undefined : host.runtime(ref.runtime);
  if (rt === undefined) {
    throw new RmxError(
      "BACKEND_FAILED",
      `transcribe.respond: runtime ${ref.runtime ?? "?"} of ${ref.cell} is gone`,
      {
        cell: ref.cell,
      },
    );
  }
  return transcribeOn(host, { cell: ref.cell, rt }, input, deadline, (r) => host.ensureReady(r, deadline));
}

/**
 * One transcription on a chosen runtime: busy from here (never idled or swapped out), woken by `wake` (the
 * socket wakes an idle runtime; the gateway also starts a stopped one, from its bounded queue), posted
 * until `deadline`, counted under the cell.
 */
export async function transcribeOn(
  // Without `record` the caller counts the request itself (the gateway records it once, with its HTTP code).
  host: Pick<TranscribeHost, "placeOf" | "begin" | "now"> & Partial<Pick<TranscribeHost, "record">>,
  target: { cell: string; rt: RuntimeSupervisor },
  input: TranscriptionInput,
  deadline: number,
  wake: (rt: RuntimeSupervisor) => Promise<void>,
): Promise<TranscribeResult> {
  const { rt } = target;
  const place = host.placeOf(rt);
  const end = host.begin(rt.id);
  const started = host.now();
  let ok = false;
  try {
    await wake(rt);
    const endpoint = rt.endpoint;
    if (endpoint === undefined) {
      throw new RmxError(
        "BACKEND_FAILED",
        `transcribe.respond: runtime ${rt.id} has no endpoint (state ${rt.state})`,
        { runtime: rt.id },
      );
    }
    const reply = await postTranscription(
      endpoint,
      {
        audio: input.audio,
        filename: input.filename,
        response_format: input.response_format,
        ...(input.language !== undefined ? { language: input.language } : {}),
        ...(input.prompt !== undefined ? { prompt: input.prompt } : {}),
        ...(input.temperature !== undefined ? { temperature: input.temperature } : {}),
      },
      Math.max(1, deadline - host.now()),
    );
    ok = true;
    return { ...reply, cell: target.cell, runtime: rt.id, model: place.model };
  } finally {
    end();
    host.record?.(place.key, host.now() - started, ok, TRANSCRIBE_ROUTE);
  }
}
