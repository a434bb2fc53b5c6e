/** Result of `transcribe.respond` (docs/protocol.md, docs/backends.md). Types only, plus the audio limit. */

/** OpenAI's own upload limit; the socket's line limit (base64) is usually the tighter one. */
export const MAX_AUDIO_BYTES = 25 * 1024 * 1024;

export interface TranscribeResult {
  /** whisper-server's answer as it gave it (`content_type` is the format's, e.g. text/vtt). */
  body: string;
  content_type: string;
  /** Audio length when known (WAV header, else verbose_json's `duration`). */
  audio_seconds?: number;
  latency_ms: number;
  cell: string;
  runtime: string;
  model: string;
}
