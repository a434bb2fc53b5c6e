/**
 * Probe scheduling for one runtime: the start-up poll (fast, growing from `start_poll_initial` to
 * `start_poll_max`, until 200 or `start_timeout`) and the steady health/inference cadence. It only
 * measures and reports: what an outcome means (degraded, unhealthy) is the state machine's decision.
 */

import type { Adapter, ProbeContext, ProbeOutcome } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import { formatMs } from "../../base/format.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { LatencySummary } from "../../ipc/protocol/runtime.js";
import { isErrorOutcome, LatencyWindow } from "../health/window.js";
import { type ProbeWheel, sharedProbeWheel, type WheelJob } from "./probe-wheel.js";
import type { Input, ProbeFailure, ProbeKind } from "./state.js";

const START_POLL_GROWTH = 1.5;
/** How far back the latency summaries look. */
const LATENCY_WINDOW_MS = 300_000;

export interface ProbeHost {
  clock: Clock;
  adapter: Adapter;
  spec: () => RuntimeSpec;
  endpoint: () => string | undefined;
  /** The matrix's model id for the runtime: the name it was launched to serve (probes check and send it). */
  modelId?: () => string | undefined;
  /** The process of `generation` is still the one to probe, in the phase the probe is for. */
  starting: (generation: number) => boolean;
  steady: (generation: number) => boolean;
  onReady: () => void;
  onStartTimeout: (reason: string) => void;
  /** The start-up poll found another server on the port: a definite failure, not one to wait out. */
  onWrongBackend: (reason: string) => void;
  onSteady: (probe: ProbeKind, outcome: ProbeOutcome) => void;
  /** A probe result was recorded (the status snapshot is stale). */
  onObserved?: (probe: ProbeKind, outcome: ProbeOutcome) => void;
  /** Logs a background failure that must never become an unhandled rejection. */
  onError: (error: unknown, what: string) => void;
  /** Where steady probes wait for their turn; default the daemon's one wheel (probe-wheel.ts). */
  wheel?: ProbeWheel;
}

export class Prober {
  private startTimer: NodeJS.Timeout | undefined;
  private jobs: Record<ProbeKind, WheelJob | undefined> = { health: undefined, inference: undefined };
  /** Each kind's job that has run: handed back to the wheel for its next probe (probe-wheel.ts). */
  private readonly spare: Record<ProbeKind, WheelJob | undefined> = {
    health: undefined,
    inference: undefined,
  };
  /** When each kind's steady probe in flight began (host clock), and its spec's interval: the next is due then. */
  private readonly began: Record<ProbeKind, number> = { health: 0, inference: 0 };
  private readonly interval: Record<ProbeKind, number> = { health: 0, inference: 0 };

  /** Each steady probe's wheel job body for `runnersFor`'s generation: made once, not per probe. */
  private runners: Partial<Record<ProbeKind, () => void>> = {};
  private runnersFor = -1;
  /** The last context handed to the adapter: reused while the model id is the same. */
  private context: ProbeContext = {};
  readonly health: LatencyWindow;
  readonly inference: LatencyWindow;

  constructor(private readonly host: ProbeHost) {
    this.health = new LatencyWindow(LATENCY_WINDOW_MS, host.clock);
    this.inference = new LatencyWindow(LATENCY_WINDOW_MS, host.clock);
  }

  summaries(): { health: LatencySummary; inference: LatencySummary } {
    return { health: this.health.summary(), inference: this.inference.summary() };
  }

  stop(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.jobs.health?.cancel();
    this.jobs.inference?.cancel();
    this.startTimer = undefined;
    this.jobs.health = undefined;
    this.jobs.inference = undefined;
  }

  private probeContext(): ProbeContext {
    const modelId = this.host.modelId?.();
    if (modelId !== this.context.modelId) this.context = modelId !== undefined ? { modelId } : {};
    return this.context;
  }

  private background(task: () => Promise<void>, what: string): void {
    task().catch((error) => this.host.onError(error, what));
  }

  /** Refused connections and 503 "Loading model" mean loading; the poll stops at 200 or the deadline. */
  startUp(generation: number): void {
    const { host } = this;
    const spec = host.spec();
    const deadline = host.clock.now() + spec.health.start_timeout_ms;
    let delay = spec.health.start_poll_initial_ms;
    let lastOutcome: ProbeOutcome | undefined;
    const poll = async () => {
      this.startTimer = undefined;
      const endpoint = host.endpoint();
      if (!host.starting(generation) || endpoint === undefined) return;
      const outcome = await host.adapter.probeHealth(
        endpoint,
        spec,
        spec.health.timeout_ms,
        this.probeContext(),
      );
      if (!host.starting(generation)) return;
      lastOutcome = outcome;
      if (outcome.kind === "wrong_backend") {
        // Waiting out start_timeout, or a restart, would find the same server there: fail now, and say why.
        this.record("health", outcome);
        host.onWrongBackend(wrongBackendReason(endpoint, outcome));
        return;
      }
      // A backend that refuses our key is up: ready, then degraded by that same answer (never a restart).
      if (outcome.kind === "ok" || outcome.kind === "auth") {
        if (outcome.kind === "ok") this.health.note(true, roundMs(outcome.ms), outcome.status, undefined);
        else this.record("health", outcome);
        host.onObserved?.("health", outcome);
        host.onReady();
        if (outcome.kind === "auth") host.onSteady("health", outcome);
        if (!host.steady(generation)) return;
        this.schedule(generation, "health", spec.health.interval_ms);
        if (spec.health.inference.enabled)
          this.schedule(generation, "inference", spec.health.inference.interval_ms);
        return;
      }
      if (host.clock.now() >= deadline) {
        const what = lastOutcome ? describeOutcome(lastOutcome) : "no answer";
        host.onStartTimeout(
          `not healthy within ${formatMs(spec.health.start_timeout_ms)} of start (last probe: ${what})`,
        );
        return;
      }
      this.startTimer = setTimeout(() => this.background(poll, "start-up probe"), delay);
      delay = Math.min(spec.health.start_poll_max_ms, Math.ceil(delay * START_POLL_GROWTH));
    };
    this.background(poll, "start-up probe");
  }

  /**
   * Steady phase. Probes keep a fixed cadence (the next is due `interval` after the previous one began,
   * never overlapping it), so a hung backend is acted on within threshold × interval + timeout. The
   * wheel may start one up to a few ms early, to share a wake with other runtimes' probes.
   */
  private schedule(generation: number, probe: ProbeKind, delay: number): void {
    const spare = this.spare[probe];
    this.spare[probe] = undefined;
    const wheel = this.host.wheel ?? sharedProbeWheel;
    this.jobs[probe] = wheel.schedule(delay, this.runner(generation, probe), spare);
  }

  private runner(generation: number, probe: ProbeKind): () => void {
    if (this.runnersFor !== generation) {
      this.runners = {};
      this.runnersFor = generation;
    }
    let run = this.runners[probe];
    if (run === undefined) {
      // Made once per generation and probe, with the outcome's handler: a probe costs the adapter's
      // promise and one `then`, not an async function's promise, its await and a `catch` besides.
      const what = `${probe} probe`;
      const failed = (error: unknown) => this.host.onError(error, what);
      const settled = (outcome: ProbeOutcome) => {
        try {
          this.steadyOutcome(generation, probe, outcome);
        } catch (error) {
          failed(error);
        }
      };
      run = () => {
        try {
          this.steadyProbe(generation, probe)?.then(settled, failed);
        } catch (error) {
          failed(error);
        }
      };
      this.runners[probe] = run;
    }
    return run;
  }

  /** Sends a steady probe; undefined when there is none to send (stopped, restarted, no endpoint). */
  private steadyProbe(generation: number, probe: ProbeKind): Promise<ProbeOutcome> | undefined {
    const { host } = this;
    this.spare[probe] = this.jobs[probe]; // it has run: the wheel may reuse it
    this.jobs[probe] = undefined;
    const endpoint = host.endpoint();
    if (!host.steady(generation) || endpoint === undefined) return undefined;
    const spec = host.spec();
    this.began[probe] = host.clock.now();
    this.interval[probe] = probe === "health" ? spec.health.interval_ms : spec.health.inference.interval_ms;
    return probe === "health"
      ? host.adapter.probeHealth(endpoint, spec, spec.health.timeout_ms, this.probeContext())
      : host.adapter.probeInference(endpoint, spec, spec.health.inference.timeout_ms, this.probeContext());
  }

  private steadyOutcome(generation: number, probe: ProbeKind, outcome: ProbeOutcome): void {
    const { host } = this;
    if (!host.steady(generation)) return; // stopped, restarted or disposed while the probe was in flight
    this.record(probe, outcome);
    host.onSteady(probe, outcome);
    if (!host.steady(generation)) return;
    const delay = this.interval[probe] - (host.clock.now() - this.began[probe]);
    this.schedule(generation, probe, Math.max(0, delay));
  }

  private record(probe: ProbeKind, outcome: ProbeOutcome): void {
    const failed = outcome.kind !== "ok";
    // Another server on our port is a backend failure as far as the error rate goes.
    const kind = outcome.kind === "wrong_backend" ? "error" : outcome.kind;
    const error = failed && isErrorOutcome(kind, outcome.status);
    this.host.onObserved?.(probe, outcome);
    (probe === "health" ? this.health : this.inference).note(
      !error,
      roundMs(outcome.ms),
      outcome.status,
      failed ? describeOutcome(outcome) : undefined,
    );
  }
}

/** Sub-10 µs precision is noise; keep summaries readable. */
function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * Names the port, what is served there and what was expected: "the server on 127.0.0.1:8000 is not the one
 * rmxd launched: GET …/v1/models lists ["other"], not "qwen" …; another server holds the port?".
 */
export function wrongBackendReason(
  endpoint: string,
  outcome: Extract<ProbeOutcome, { kind: "wrong_backend" }>,
): string {
  let where = endpoint;
  try {
    where = new URL(endpoint).host;
  } catch {
    // not a URL: name it as configured
  }
  return (
    `the server on ${where} is not the one rmxd launched: ${outcome.message}; ` +
    "another server holds the port? will not fix itself (stop it or move this runtime's port)"
  );
}

export function describeOutcome(outcome: ProbeOutcome): string {
  switch (outcome.kind) {
    case "ok":
      return `ok in ${Math.round(outcome.ms)} ms`;
    case "loading":
      return `loading (${outcome.message})`;
    case "timeout":
      return `no answer within ${Math.round(outcome.ms)} ms`;
    case "wrong_backend":
      return `not our backend: ${outcome.message}`;
    default:
      return outcome.status !== undefined ? `HTTP ${outcome.status}: ${outcome.message}` : outcome.message;
  }
}

/** The machine's input for an ok probe, one per kind: inputs are read, never changed. */
const OK_INPUTS: Readonly<Record<ProbeKind, Input>> = {
  health: Object.freeze({ type: "probe", probe: "health", ok: true }),
  inference: Object.freeze({ type: "probe", probe: "inference", ok: true }),
};

/** A steady probe's outcome as the machine's input: ok, or the failure's class and how to name it. */
export function probeInput(probe: ProbeKind, outcome: ProbeOutcome, spec: RuntimeSpec): Input {
  if (outcome.kind === "ok") return OK_INPUTS[probe];
  return {
    type: "probe",
    probe,
    ok: false,
    failure: outcome.kind as ProbeFailure,
    label: probe === "health" ? `${spec.health.path} probe` : "inference probe",
    detail: describeOutcome(outcome),
  };
}
