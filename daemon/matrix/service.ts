/**
 * The matrix service: samples the hardware on an interval, scrapes every live llama runtime's `/metrics` and
 * `/slots` after each sample, turns counter deltas into throughput, composes the cells, and publishes
 * `hardware.sample`, `runtime.health` (scope "cell") and `matrix.changed`.
 *
 * Scrapes follow demand: every tick while someone follows the cells (subscribers) or read them lately
 * (`matrix.get`, the policy's routing, Prometheus `/metrics`, the dashboard: within `read_hold_ms`), else
 * once every `idle_scrape_ms`. Two GETs per runtime per tick would otherwise triple the probes' load on a
 * daemon nobody looks at; the first read after a quiet spell sees figures at most `idle_scrape_ms` old
 * (throughput then spans that window), and reads from then on keep them one tick fresh.
 */

import { readModel } from "../../adapters/model-formats.js";
import { getAdapter } from "../../adapters/registry.js";
import { keyRefusal, refusesKey } from "../../adapters/shared/auth.js";
import type { LlamaMetrics } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import { isRmxError } from "../../base/errors.js";
import { looksLikePath } from "../../base/model-ref.js";
import { monotonicMs } from "../../base/monotonic.js";
import type { DaemonConfig, RuntimeSpec } from "../../base/spec.js";
import type {
  HardwareInventory,
  HardwareResult,
  HardwareSample,
  TickStats,
} from "../../ipc/protocol/hardware.js";
import type { CellRequestTelemetry, MatrixCell, MatrixResult } from "../../ipc/protocol/matrix.js";
import type { ModelEntry, ModelInspectResult, ModelListResult } from "../../ipc/protocol/models.js";
import type { RuntimeState, RuntimeView, StatusCode } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import { collectInventory } from "../hardware/inventory.js";
import { HardwareSampler } from "../hardware/sampler.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import { ChangeGate } from "../telemetry/change-gate.js";
import { type LoopDelayWindow, sharedLoopDelay } from "../telemetry/loop-delay.js";
import {
  composeMatrix,
  diffStatusCodes,
  type LeaseCount,
  type MatrixRuntime,
  type ModelFacts,
  type RuntimeObservation,
  statusCodes,
} from "./compose.js";
import { modelIdOf } from "./keys.js";
import { inspectModel, listModels } from "./models-view.js";
import { ThroughputTracker } from "./throughput.js";

/** What the matrix needs of a runtime supervisor. */
export interface MatrixRuntimeSource {
  readonly spec: RuntimeSpec;
  readonly state: RuntimeState;
  readonly pid: number | undefined;
  readonly endpoint: string | undefined;
  view(): RuntimeView;
}

/** What the matrix needs of the daemon (daemon/daemon.ts wires it; tests and benches can too). */
export interface MatrixHost {
  readonly clock: Clock;
  readonly bus: EventBus;
  readonly config: DaemonConfig;
  /**
   * The inventory at start. The matrix owns it from then on: `hardware.get` with `refresh` collects it
   * again and publishes `hardware.inventory`, which is how the rest of the daemon learns of it.
   */
  readonly inventory: HardwareInventory;
  readonly sandboxes: readonly SandboxDetection[];
  readonly models: {
    list(): ModelEntry[];
    get(idOrPath: string): ModelEntry | undefined;
    readonly notes?: readonly string[];
  };
  readonly runtimes: ReadonlyMap<string, MatrixRuntimeSource>;
  /** How often to scrape while nobody follows or reads the cells (defaults: SCRAPE_CADENCE). */
  readonly scrapeCadence?: ScrapeCadence;
  /** Leases held on a cell and its capacity (the policy feature's); `undefined` → no leases, capacity = slots. */
  cellLeases?(cellKey: string): LeaseCount | undefined;
  /** Requests routed to a cell (the policy feature's). */
  cellRequests?(cellKey: string): CellRequestTelemetry | undefined;
}

export interface MatrixService {
  cells(): MatrixCell[];
  /** `matrix.get`: axes and cells, composed now from the latest observations. */
  result(): MatrixResult;
  onConfig(config: DaemonConfig): void;
  stop(): void;
  /** `hardware.get`; `refresh` collects the inventory again and takes a sample now. */
  hardware(opts?: { refresh?: boolean }): Promise<HardwareResult>;
  models(): ModelListResult;
  inspect(target: { path?: string; model?: string; context?: number }): Promise<ModelInspectResult>;
  /** The last `/metrics` sample scraped from each live llama runtime, by runtime id (for re-export). */
  backendMetrics(): ReadonlyMap<string, LlamaMetrics>;
  /**
   * One tick now (sample, scrape, compose, publish); resolves when it is done. It scrapes whatever the
   * demand (`scrape: "due"`: only when the interval's tick would, see the module comment).
   */
  tick(opts?: { scrape?: "always" | "due" }): Promise<void>;
  /** Scrapes done (each of every live scraped runtime), for tests and benches. */
  readonly scrapeRounds: number;
  readonly stats: TickStats;
  /** Ticks that composed and published the serving cells (the others had nobody following them). */
  readonly composedTicks: number;
  readonly lastSample: HardwareSample | undefined;
}

const SCRAPED_STATES: ReadonlySet<RuntimeState> = new Set(["ready", "degraded"]);

export interface ScrapeCadence {
  /** Between scrapes while nobody follows or reads the cells. */
  idle_scrape_ms: number;
  /** A read keeps every tick scraping for this long. */
  read_hold_ms: number;
}

/** 30 s: six 5-s ticks; a minute of hold spans a 15-60 s Prometheus scrape interval. */
export const SCRAPE_CADENCE: ScrapeCadence = { idle_scrape_ms: 30_000, read_hold_ms: 60_000 };

/** Scrapes must finish well inside a tick, and a hung backend must not hold the matrix. */
function scrapeTimeout(intervalMs: number): number {
  return Math.max(200, Math.min(2000, Math.floor(intervalMs / 2)));
}

function round2(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function modelPathOf(spec: RuntimeSpec): string | undefined {
  const model = spec.model;
  return model !== undefined && looksLikePath(model) ? model : undefined;
}

class Matrix implements MatrixService {
  private sampler: HardwareSampler;
  private intervalMs: number;
  private sample: HardwareSample | undefined;
  private readonly observations = new Map<string, RuntimeObservation>();
  private readonly tracker = new ThroughputTracker();
  /** Runtime pids whose backend answers 404/501 on `/slots`: not asked again. */
  private readonly noSlots = new Set<string>();
  /** GGUF facts of model files runtimes name directly (not in the catalog), by path. */
  private readonly runtimeModels = new Map<string, ModelFacts>();
  private readonly reading = new Set<string>();
  private inventory: HardwareInventory;
  private codes = new Map<string, StatusCode>();
  private scraping: Promise<void> | undefined;
  private recheck: NodeJS.Immediate | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;
  private composeTotalMs = 0;
  composedTicks = 0;
  scrapeRounds = 0;
  /** Clock time of the last read of the cells by a reader, and of the last scrape round. */
  private lastRead = Number.NEGATIVE_INFINITY;
  private lastScrape = Number.NEGATIVE_INFINITY;
  private readonly healthGate = new ChangeGate();
  /** Per tick interval, on the daemon's one loop-delay monitor (telemetry/loop-delay.ts). */
  private loopDelay: LoopDelayWindow | undefined;
  readonly stats: TickStats = { ticks: 0, scraped: 0, skipped: 0 };

  constructor(private readonly host: MatrixHost) {
    this.inventory = host.inventory;
    this.intervalMs = host.config.telemetry.sample_interval_ms;
    this.sampler = this.createSampler();
  }

  get lastSample(): HardwareSample | undefined {
    return this.sample;
  }

  start(): void {
    this.refreshRuntimeModels();
    this.codes = statusCodes(this.compose().cells);
    this.unsubscribe.push(
      this.host.bus.subscribe(["runtime.state.changed", "models.changed"], () => this.scheduleRecheck()),
    );
    this.sampler.start();
    this.loopDelay = sharedLoopDelay.open(this.loopDelay);
  }

  private createSampler(): HardwareSampler {
    return new HardwareSampler({
      intervalMs: this.intervalMs,
      inventory: this.inventory,
      clock: this.host.clock,
      pids: () => this.livePids(),
      onSample: (sample) => void this.afterSample(sample, monotonicMs() - sample.tick_ms),
    });
  }

  private livePids(): number[] {
    const pids: number[] = [];
    for (const rt of this.host.runtimes.values()) if (rt.pid !== undefined) pids.push(rt.pid);
    return pids;
  }

  // ─── Composition ─────────────────────────────────────────────────────────

  private lookup = (idOrPath: string): ModelEntry | undefined => this.host.models.get(idOrPath);

  private matrixRuntimes(): MatrixRuntime[] {
    const out: MatrixRuntime[] = [];
    for (const rt of this.host.runtimes.values()) {
      const entry: MatrixRuntime = { view: rt.view(), spec: rt.spec, model: modelIdOf(rt.spec, this.lookup) };
      const observation = this.observations.get(rt.spec.id);
      if (observation !== undefined) entry.observation = observation;
      out.push(entry);
    }
    return out;
  }

  private modelFacts(): ModelFacts[] {
    const entries: ModelFacts[] = this.host.models.list();
    const ids = new Set(entries.map((e) => e.id));
    for (const rt of this.host.runtimes.values()) {
      const file = modelPathOf(rt.spec);
      if (file === undefined || this.host.models.get(rt.spec.model as string) !== undefined) continue;
      const facts = this.runtimeModels.get(file);
      const id = modelIdOf(rt.spec, this.lookup);
      if (facts !== undefined && !ids.has(id)) {
        entries.push({ ...facts, id });
        ids.add(id);
      }
    }
    return entries;
  }

  /** Reads the header (GGUF, whisper GGML) of model files runtimes name by path, once per file, off the tick. */
  private refreshRuntimeModels(): void {
    for (const rt of this.host.runtimes.values()) {
      const file = modelPathOf(rt.spec);
      if (file === undefined || this.runtimeModels.has(file) || this.reading.has(file)) continue;
      if (this.host.models.get(file) !== undefined) continue;
      this.reading.add(file);
      // The context sizes an HF model's KV estimate (GGUF estimates are recomputed per cell with it anyway).
      readModel(file, rt.spec.context !== undefined ? { context: rt.spec.context } : {}).then(
        (read) =>
          this.runtimeModels.set(
            file,
            read.format === "gguf"
              ? { id: file, path: file, gguf: read.info }
              : { id: file, path: file, estimate: read.estimate },
          ),
        (error: Error) => this.runtimeModels.set(file, { id: file, path: file, error: error.message }),
      );
      // `reading` keeps the file from being read twice; a reload with a new path reads that one.
    }
  }

  /** A reader looked at the cells: scrape every tick for a while (see the module comment). */
  private noteRead(): void {
    this.lastRead = this.host.clock.now();
  }

  result(): MatrixResult {
    this.noteRead();
    return this.compose();
  }

  private compose(opts: { servingOnly?: boolean } = {}): MatrixResult {
    return composeMatrix(
      {
        ...(opts.servingOnly === true ? { servingOnly: true } : {}),
        models: this.modelFacts(),
        inventory: this.inventory,
        ...(this.sample !== undefined ? { sample: this.sample } : {}),
        sandboxes: this.host.sandboxes,
        runtimes: this.matrixRuntimes(),
        ...(this.host.cellLeases !== undefined
          ? { leases: (key: string) => this.host.cellLeases?.(key) }
          : {}),
        ...(this.host.cellRequests !== undefined
          ? { requests: (key: string) => this.host.cellRequests?.(key) }
          : {}),
      },
      this.host.clock,
    );
  }

  cells(): MatrixCell[] {
    return this.result().cells;
  }

  backendMetrics(): ReadonlyMap<string, LlamaMetrics> {
    this.noteRead();
    const out = new Map<string, LlamaMetrics>();
    for (const [id, observation] of this.observations)
      if (observation.metrics !== undefined) out.set(id, observation.metrics);
    return out;
  }

  /** Runtime state changes come in bursts: compare status codes once per turn of the event loop. */
  private scheduleRecheck(): void {
    if (this.recheck !== undefined || this.stopped) return;
    this.recheck = setImmediate(() => {
      this.recheck = undefined;
      if (!this.stopped) this.publishChanges(this.compose().cells);
    });
  }

  /** `partial`: only these cells were composed; the others keep their codes. */
  private publishChanges(cells: readonly MatrixCell[], partial = false): void {
    const next = partial ? new Map(this.codes) : statusCodes(cells);
    if (partial) for (const cell of cells) next.set(cell.key, cell.status.code);
    const change = diffStatusCodes(this.codes, next);
    this.codes = next;
    if (change !== undefined) this.host.bus.publish("matrix.changed", change);
  }

  // ─── The tick ────────────────────────────────────────────────────────────

  private async afterSample(sample: HardwareSample, startedAt: number, force = false): Promise<void> {
    if (this.stopped) return;
    this.sample = sample;
    this.host.bus.publish("hardware.sample", sample);
    if (this.scraping !== undefined) {
      this.stats.skipped++;
      return;
    }
    const run = this.scrapeAndPublish(startedAt, force || this.scrapeDue());
    this.scraping = run;
    try {
      await run;
    } finally {
      this.scraping = undefined;
    }
  }

  /** Someone follows the cells, read them lately, or the idle cadence is up. */
  private scrapeDue(): boolean {
    const bus = this.host.bus;
    if (bus.hasSubscribers("runtime.health") || bus.hasSubscribers("matrix.changed")) return true;
    const cadence = this.host.scrapeCadence ?? SCRAPE_CADENCE;
    const now = this.host.clock.now();
    if (now - this.lastRead < cadence.read_hold_ms) return true;
    // Up to half a tick early: the tick nearest the cadence, not the one after it.
    const slack = Math.min(this.intervalMs / 2, cadence.idle_scrape_ms / 10);
    return now - this.lastScrape >= cadence.idle_scrape_ms - slack;
  }

  private async scrapeAndPublish(startedAt: number, scrape: boolean): Promise<void> {
    const scrapeStart = monotonicMs();
    const scraped = await this.scrapeAll(scrape);
    if (this.stopped) return;
    const composeStart = monotonicMs();
    const s = this.stats;
    s.ticks++;
    s.scraped = scraped;
    s.last_scrape_ms = round2(composeStart - scrapeStart);
    this.rotateLoopDelay();
    // Compute on read: the observations are kept either way, and `matrix.get`, the status and /metrics
    // compose from them when asked. Composing per tick only pays when someone follows the cells; the
    // codes compared below then still start from the last published ones, so a late subscriber's first
    // `matrix.changed` carries every change since.
    const bus = this.host.bus;
    const healthWatched = bus.hasSubscribers("runtime.health");
    if (!healthWatched && !bus.hasSubscribers("matrix.changed")) {
      s.last_tick_ms = round2(composeStart - startedAt);
      return;
    }
    this.refreshRuntimeModels();
    // Idle cells change only with models, config or inventory, and those recheck the whole matrix.
    const { cells } = this.compose({ servingOnly: true });
    if (healthWatched) {
      // Only cells whose entry changed (telemetry/change-gate.ts): quiet cells cost no events.
      const gate = this.healthGate;
      gate.begin(bus.subscriptionsMade);
      const seen = new Set<string>();
      for (const cell of cells) {
        const payload = {
          scope: "cell",
          key: cell.key,
          status: cell.status,
          throughput: cell.throughput,
          load: cell.load,
        } as const;
        seen.add(cell.key);
        if (gate.changed(cell.key, JSON.stringify([payload.status, payload.throughput, payload.load])))
          bus.publish("runtime.health", payload);
      }
      gate.keepOnly(seen);
    }
    this.publishChanges(cells, true);
    const end = monotonicMs();
    const compose = end - composeStart;
    s.last_compose_ms = round2(compose);
    s.max_compose_ms = round2(Math.max(s.max_compose_ms ?? 0, compose));
    this.composeTotalMs += compose;
    this.composedTicks++;
    s.mean_compose_ms = round2(this.composeTotalMs / this.composedTicks);
    s.last_tick_ms = round2(end - startedAt);
  }

  /**
   * The window records how late the monitor's timer fired: the delay. Read per tick interval and reset, so
   * start-up storms do not hide what a steady tick costs.
   */
  private rotateLoopDelay(): void {
    const h = this.loopDelay;
    if (h === undefined || h.count === 0) return;
    const interval = h.summary();
    h.reset();
    const s = this.stats;
    s.loop_delay_last_interval = interval;
    const worst = s.loop_delay_worst_interval;
    s.loop_delay_worst_interval = {
      p50_ms: Math.max(worst?.p50_ms ?? 0, interval.p50_ms),
      p99_ms: Math.max(worst?.p99_ms ?? 0, interval.p99_ms),
      max_ms: Math.max(worst?.max_ms ?? 0, interval.max_ms),
    };
  }

  /**
   * Scrapes every live runtime whose adapter serves load (`scrapesLoad`) concurrently (when `scrape`);
   * forgets the observations and counters of runtimes that are not live either way.
   */
  private async scrapeAll(scrape: boolean): Promise<number> {
    const live = new Set<string>();
    const jobs: Promise<void>[] = [];
    const timeoutMs = scrapeTimeout(this.intervalMs);
    for (const rt of this.host.runtimes.values()) {
      const id = rt.spec.id;
      // The endpoint last: it is a string made on each read, and most runtimes stop at the adapter.
      if (!getAdapter(rt.spec.adapter).scrapesLoad || !SCRAPED_STATES.has(rt.state)) continue;
      const endpoint = rt.endpoint;
      if (endpoint === undefined) continue;
      live.add(id);
      // A runtime's first reading is its baseline: taken at its first tick whatever the cadence, so the
      // rate of what it serves before the next due scrape (one transcription, say) can be computed.
      if (scrape || !this.observations.has(id)) jobs.push(this.scrapeOne(rt, endpoint, timeoutMs));
    }
    for (const id of this.observations.keys()) if (!live.has(id)) this.observations.delete(id);
    this.tracker.retain(live);
    if (scrape) {
      this.lastScrape = this.host.clock.now();
      if (live.size > 0) this.scrapeRounds++;
    }
    await Promise.all(jobs);
    return jobs.length;
  }

  private async scrapeOne(rt: MatrixRuntimeSource, endpoint: string, timeoutMs: number): Promise<void> {
    const id = rt.spec.id;
    const pid = rt.pid;
    const adapter = getAdapter(rt.spec.adapter);
    const slotsKey = `${id}:${pid ?? ""}`;
    const askSlots = !this.noSlots.has(slotsKey);
    const [metrics, slots] = await Promise.allSettled([
      adapter.scrapeMetrics(endpoint, timeoutMs, rt.spec),
      askSlots ? adapter.scrapeSlots(endpoint, timeoutMs, rt.spec) : Promise.resolve(undefined),
    ]);
    const at = this.host.clock.now();
    const observation: RuntimeObservation = { at };
    if (slots.status === "fulfilled") {
      if (slots.value !== undefined) observation.slots = slots.value;
      else if (askSlots) this.noSlots.add(slotsKey);
    }
    if (metrics.status === "rejected") {
      // The baseline stays: the next good scrape of the same process still gives a valid delta.
      observation.error = scrapeError(metrics.reason);
    } else if (metrics.value !== undefined) {
      const m = metrics.value;
      observation.metrics = m;
      const reading = {
        at,
        ...(pid !== undefined ? { pid } : {}),
        ...(m.tokens_predicted_total !== undefined
          ? { tokens_predicted_total: m.tokens_predicted_total }
          : {}),
        ...(m.prompt_tokens_total !== undefined ? { prompt_tokens_total: m.prompt_tokens_total } : {}),
        ...(m.audio_seconds_total !== undefined ? { audio_seconds_total: m.audio_seconds_total } : {}),
        ...(m.audio_busy_seconds_total !== undefined
          ? { audio_busy_seconds_total: m.audio_busy_seconds_total }
          : {}),
        ...(m.inference_requests_total !== undefined
          ? { inference_requests_total: m.inference_requests_total }
          : {}),
      };
      const throughput = this.tracker.observe(id, reading);
      if (throughput !== undefined) observation.throughput = throughput;
    }
    if (!this.stopped) this.observations.set(id, observation);
  }

  async tick(opts: { scrape?: "always" | "due" } = {}): Promise<void> {
    const started = monotonicMs();
    const sample = await this.sampler.sampleOnce();
    await this.scraping;
    await this.afterSample(sample, started, opts.scrape !== "due");
  }

  // ─── Socket views ────────────────────────────────────────────────────────

  async hardware(opts: { refresh?: boolean } = {}): Promise<HardwareResult> {
    if (opts.refresh === true) {
      const previous = this.inventory;
      const next = await collectInventory({ previous, timeoutMs: 5000, clock: this.host.clock });
      this.inventory = next;
      if (JSON.stringify(next.gpus) !== JSON.stringify(previous.gpus)) {
        this.sampler.stop();
        this.sampler = this.createSampler();
        if (!this.stopped) this.sampler.start();
      }
      this.host.bus.publish("hardware.inventory", next);
      this.sample = await this.sampler.sampleOnce();
      this.scheduleRecheck();
    }
    const runtimes: HardwareResult["runtimes"] = {};
    for (const rt of this.host.runtimes.values()) {
      const usage = rt.pid !== undefined ? this.sample?.processes[rt.pid] : undefined;
      if (usage !== undefined) runtimes[rt.spec.id] = { ...usage, hardware: rt.spec.hardware };
    }
    const result: HardwareResult = {
      generated: rfc3339(this.host.clock.now()),
      inventory: this.inventory,
      loop_delay: this.sampler.loopDelay,
      sample_interval_ms: this.intervalMs,
      runtimes,
      tick: { ...this.stats },
    };
    if (this.sample !== undefined) result.sample = this.sample;
    return result;
  }

  models(): ModelListResult {
    this.noteRead();
    return listModels(
      this.host.models.list(),
      this.matrixRuntimes(),
      { inventory: this.inventory, ...(this.sample !== undefined ? { sample: this.sample } : {}) },
      rfc3339(this.host.clock.now()),
      this.host.models.notes ?? [],
    );
  }

  inspect(target: { path?: string; model?: string; context?: number }): Promise<ModelInspectResult> {
    return inspectModel(target, this.lookup, {
      inventory: this.inventory,
      ...(this.sample !== undefined ? { sample: this.sample } : {}),
    });
  }

  // ─── Lifecycle ───────────────────────────────────────────────────────────

  onConfig(config: DaemonConfig): void {
    if (config.telemetry.sample_interval_ms !== this.intervalMs && !this.stopped) {
      this.intervalMs = config.telemetry.sample_interval_ms;
      this.sampler.stop();
      this.sampler = this.createSampler();
      this.sampler.start();
    }
    for (const key of this.noSlots)
      if (!this.host.runtimes.has(key.slice(0, key.lastIndexOf(":")))) this.noSlots.delete(key);
    this.refreshRuntimeModels();
    this.scheduleRecheck();
  }

  stop(): void {
    this.stopped = true;
    this.sampler.stop();
    if (this.loopDelay !== undefined) sharedLoopDelay.close(this.loopDelay);
    if (this.recheck !== undefined) clearImmediate(this.recheck);
    this.recheck = undefined;
    for (const off of this.unsubscribe.splice(0)) off();
  }
}

/** Creates and starts the matrix service on a host (the daemon). */
export function createMatrix(host: MatrixHost): MatrixService {
  const matrix = new Matrix(host);
  matrix.start();
  return matrix;
}

/** A scrape's failure for the cell's note: a refused key in its own words, anything else as thrown. */
function scrapeError(reason: unknown): string {
  const status = isRmxError(reason) ? reason.data?.status : undefined;
  if (typeof status === "number" && refusesKey(status)) return `metrics: ${keyRefusal(status)}`;
  return reason instanceof Error ? reason.message : String(reason);
}
