/** Params schema of `transcribe.respond` (audio routed to a cell that serves transcription); daemon-only (zod). */
import * as z from "zod";
import type { ResponseFormat } from "../../adapters/whisper-cpp/transcribe-backend.js";
import { lazySchemas } from "./lazy-schemas.js";
import { MAX_AUDIO_BYTES } from "./transcribe.js";

const MAX_NAME = 256;
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const name = z.string().min(1).max(MAX_NAME);

/** whisper-server's formats (it falls back to json on an unknown one; rmxd refuses it instead). */
const RESPONSE_FORMATS = [
  "json",
  "verbose_json",
  "text",
  "srt",
  "vtt",
] as const satisfies readonly ResponseFormat[];

export const transcribeSchemas = lazySchemas({
  // Audio as base64 only, never a path: in system mode the socket is shared with a group, and a path would
  // make the daemon read files for callers who may not be able to read them (docs/backends.md).
  "transcribe.respond": () =>
    z.strictObject({
      audio_base64: z
        .string()
        .min(1)
        .max(Math.ceil((MAX_AUDIO_BYTES * 4) / 3) + 4)
        .base64(),
      filename: name.optional(),
      response_format: z.enum(RESPONSE_FORMATS).optional(),
      language: z.string().min(1).max(32).optional(),
      model: name.optional(),
      agent: name.optional(),
      project: name.optional(),
      timeout_ms: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional(),
    }),
});

export type TranscribeParams = z.input<(typeof transcribeSchemas)["transcribe.respond"]>;
