/**
 * Throughput from llama-server's monotonic counters: the rate is Δcounter / Δwall-time between two scrapes of
 * the same process, never the backend's lifetime averages (which never fall back to zero once the load stops).
 */
import type { Throughput } from "../../ipc/protocol/matrix.js";

export interface CounterReading {
  /** Wall-clock time the scrape answered, ms. */
  at: number;
  /** The process the counters belong to: a new pid means new counters. */
  pid?: number;
  tokens_predicted_total?: number;
  prompt_tokens_total?: number;
  /** whisper.cpp (the transcriptions rmxd routed): audio seconds transcribed, and the wall time they took. */
  audio_seconds_total?: number;
  audio_busy_seconds_total?: number;
  /** onnxruntime / Triton: successful inference requests (nv_inference_request_success). */
  inference_requests_total?: number;
}

/** Rates are rounded to 0.1 token/s: finer is noise at a tick of seconds. */
function roundRate(value: number): number {
  return Math.round(value * 10) / 10;
}

function rate(prev: number | undefined, next: number | undefined, seconds: number): number | undefined {
  if (prev === undefined || next === undefined) return undefined;
  const delta = next - prev;
  // A counter going down means the backend restarted: this pair says nothing about throughput.
  if (delta < 0 || !Number.isFinite(delta)) return undefined;
  return roundRate(delta / seconds);
}

/**
 * Rates between two readings; `undefined` when they cannot be compared (different process, time not moving
 * forward) or when neither counter yields a rate. One counter going down drops that counter's rate only.
 */
export function ratesBetween(prev: CounterReading, next: CounterReading): Throughput | undefined {
  if (prev.pid !== next.pid) return undefined;
  const seconds = (next.at - prev.at) / 1000;
  if (!(seconds > 0)) return undefined;
  const generated = rate(prev.tokens_predicted_total, next.tokens_predicted_total, seconds);
  const prompt = rate(prev.prompt_tokens_total, next.prompt_tokens_total, seconds);
  const audio = audioSpeed(prev, next);
  const inferences = rate(prev.inference_requests_total, next.inference_requests_total, seconds);
  if (generated === undefined && prompt === undefined && audio === undefined && inferences === undefined)
    return undefined;
  const out: Throughput = { window_seconds: Math.round(seconds * 1000) / 1000 };
  if (generated !== undefined) out.generated_tokens_per_second = generated;
  if (prompt !== undefined) out.prompt_tokens_per_second = prompt;
  if (audio !== undefined) out.audio_seconds_per_second = audio;
  if (inferences !== undefined) out.inferences_per_second = inferences;
  return out;
}

/**
 * whisper.cpp: Δaudio seconds / Δbusy wall seconds of the transcriptions that finished between the readings
 * (how many times faster than real time the runtime transcribes); none when no transcription finished or a
 * counter went down.
 */
function audioSpeed(prev: CounterReading, next: CounterReading): number | undefined {
  if (prev.audio_seconds_total === undefined || next.audio_seconds_total === undefined) return undefined;
  if (prev.audio_busy_seconds_total === undefined || next.audio_busy_seconds_total === undefined)
    return undefined;
  const audio = next.audio_seconds_total - prev.audio_seconds_total;
  const busy = next.audio_busy_seconds_total - prev.audio_busy_seconds_total;
  if (!(busy > 0) || !(audio >= 0) || !Number.isFinite(audio / busy)) return undefined;
  return roundRate(audio / busy);
}

/** Last reading per runtime; `observe` returns the rates since the previous reading of that runtime. */
export class ThroughputTracker {
  private readonly last = new Map<string, CounterReading>();

  observe(runtime: string, reading: CounterReading): Throughput | undefined {
    const prev = this.last.get(runtime);
    this.last.set(runtime, reading);
    return prev === undefined ? undefined : ratesBetween(prev, reading);
  }

  /** The runtime stopped or went away: its next reading starts a new baseline. */
  forget(runtime: string): void {
    this.last.delete(runtime);
  }

  /** Keeps only these runtimes. */
  retain(runtimes: ReadonlySet<string>): void {
    for (const id of this.last.keys()) if (!runtimes.has(id)) this.last.delete(id);
  }

  get size(): number {
    return this.last.size;
  }
}
