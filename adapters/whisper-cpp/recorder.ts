/**
 * The transcriptions rmxd routed, per backend endpoint: whisper-server has no `/metrics`, so its throughput is
 * what rmxd saw go through it — audio seconds transcribed and the wall time the requests took. The adapter's
 * scrape reads these counters like any backend's monotonic counters (a restart on a new port starts new ones).
 */
import type { BackendMetrics } from "../types.js";

export interface TranscriptionRecord {
  endpoint: string;
  audio_seconds?: number;
  wall_seconds: number;
  ok: boolean;
}

interface Counters {
  audio_seconds_total: number;
  audio_busy_seconds_total: number;
  requests: number;
  failures: number;
  in_flight: number;
}

export class TranscriptionRecorder {
  private readonly byEndpoint = new Map<string, Counters>();

  private counters(endpoint: string): Counters {
    let c = this.byEndpoint.get(endpoint);
    if (c === undefined) {
      c = { audio_seconds_total: 0, audio_busy_seconds_total: 0, requests: 0, failures: 0, in_flight: 0 };
      this.byEndpoint.set(endpoint, c);
    }
    return c;
  }

  /** A request goes out; call the returned function with its outcome. */
  begin(endpoint: string): (done: Omit<TranscriptionRecord, "endpoint">) => void {
    const c = this.counters(endpoint);
    c.in_flight++;
    let ended = false;
    return (done) => {
      if (ended) return;
      ended = true;
      c.in_flight--;
      c.requests++;
      if (!done.ok) c.failures++;
      // Only audio of known duration that was transcribed counts towards the speed.
      if (done.ok && done.audio_seconds !== undefined) {
        c.audio_seconds_total += done.audio_seconds;
        c.audio_busy_seconds_total += done.wall_seconds;
      }
    };
  }

  metrics(endpoint: string): BackendMetrics {
    const c = this.byEndpoint.get(endpoint) ?? {
      audio_seconds_total: 0,
      audio_busy_seconds_total: 0,
      requests: 0,
      failures: 0,
      in_flight: 0,
    };
    return {
      audio_seconds_total: c.audio_seconds_total,
      audio_busy_seconds_total: c.audio_busy_seconds_total,
      requests_processing: c.in_flight,
    };
  }

  snapshot(endpoint: string): Readonly<Counters> | undefined {
    const c = this.byEndpoint.get(endpoint);
    return c === undefined ? undefined : { ...c };
  }

  forget(endpoint: string): void {
    this.byEndpoint.delete(endpoint);
  }
}

/** The daemon's one recorder: the transcribe path writes it, the whisper adapter's scrape reads it. */
export const transcriptions = new TranscriptionRecorder();
