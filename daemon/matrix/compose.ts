/**
 * The matrix as a pure function of what the daemon knows: models × hardware × sandboxes, each cell with its
 * runtimes, composed status, health, throughput, load and fit. No I/O; time comes from the injected clock.
 */

import { getAdapter } from "../../adapters/registry.js";
import {
  estimateMemory,
  type FitTarget,
  fitOn,
  type MemoryEstimate,
} from "../../adapters/shared/gguf/estimate.js";
import type { GgufInfo } from "../../adapters/shared/gguf/reader.js";
import { gpuIndices } from "../../adapters/shared/placement.js";
import { CAPABILITIES, type Capability, type LlamaMetrics, type SlotInfo } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import type { FitVerdict } from "../../base/fit.js";
import type { HardwareId, RuntimeSpec, SandboxKind } from "../../base/spec.js";
import type { HardwareInventory, HardwareSample } from "../../ipc/protocol/hardware.js";
import type {
  CellLoad,
  CellRequestTelemetry,
  MatrixCell,
  MatrixChange,
  MatrixResult,
  Throughput,
} from "../../ipc/protocol/matrix.js";
import type { LatencySummary, RuntimeView, StatusCode, StatusObject } from "../../ipc/protocol/runtime.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import { finalizeReasons } from "../status/compose.js";
import { severityLabel } from "../status/labels.js";
import { stateMayHaveProcess } from "../supervise/state.js";
import { cellKey, REMOTE_HARDWARE } from "./keys.js";

/** What one scrape of a runtime's `/metrics` and `/slots` said. */
export interface RuntimeObservation {
  /** When the scrape answered (ms). */
  at: number;
  metrics?: LlamaMetrics;
  slots?: SlotInfo[];
  /** Rates since the previous scrape of the same process (counter deltas). */
  throughput?: Throughput;
  /** Why the scrape failed; the previous numbers are not carried over. */
  error?: string;
}

export interface MatrixRuntime {
  view: RuntimeView;
  spec: RuntimeSpec;
  /** `modelIdOf(spec)`. */
  model: string;
  observation?: RuntimeObservation;
}

/** A model row: a catalog entry, or a model only a runtime names (then `gguf` may still be known). */
export interface ModelFacts {
  id: string;
  path?: string;
  gguf?: GgufInfo;
  /** The estimate of a model that is not GGUF (whisper.cpp's GGML `.bin`), from its own header. */
  estimate?: MemoryEstimate;
  /** Why the file cannot be used. */
  error?: string;
}

export interface LeaseCount {
  held: number;
  capacity: number;
}

/** Set by the policy feature: leases held on a cell and its capacity; `undefined` → the default. */
export type LeaseCounter = (cellKey: string) => LeaseCount | undefined;

export interface MatrixInput {
  models: readonly ModelFacts[];
  inventory: HardwareInventory;
  sample?: HardwareSample;
  sandboxes: readonly SandboxDetection[];
  runtimes: readonly MatrixRuntime[];
  leases?: LeaseCounter;
  /** Set by the policy feature: the requests it routed to a cell; `undefined` → none yet. */
  requests?: (cellKey: string) => CellRequestTelemetry | undefined;
  /** Compose only the cells that have a runtime (the tick: idle cells change only with models or config). */
  servingOnly?: boolean;
}

const SANDBOX_ORDER: readonly SandboxKind[] = ["none", "bwrap", "systemd-run"];

/** Lower is better: the cell shows its best runtime (one ready runtime means the cell can serve). */
const CODE_RANK: Record<StatusCode, number> = { ready: 0, degraded: 1, starting: 2, error: 3, offline: 4 };

export const NO_RUNTIME_LABEL = "No runtime";

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `gpu:10` after `gpu:9`; `cpu` first, `remote` last. */
function hardwareOrder(a: string, b: string): number {
  const rank = (id: string): [number, number] => {
    if (id === "cpu") return [0, 0];
    const gpu = /^gpu:(\d+)(?:,\d+)*$/.exec(id); // a list sorts by its first GPU
    if (gpu) return [1, Number(gpu[1])];
    return id === REMOTE_HARDWARE ? [3, 0] : [2, 0];
  };
  const [ra, na] = rank(a);
  const [rb, nb] = rank(b);
  return ra - rb || na - nb || byText(a, b);
}

export interface MatrixAxes {
  models: string[];
  hardware: HardwareId[];
  sandboxes: SandboxKind[];
}

/** Every model (catalog + runtimes), every hardware id (inventory + runtimes), every sandbox kind. */
export function matrixAxes(
  input: Pick<MatrixInput, "models" | "inventory" | "sandboxes" | "runtimes">,
): MatrixAxes {
  const local = input.runtimes.filter((r) => getAdapter(r.spec.adapter).spawns);
  const models = new Set(input.models.map((m) => m.id));
  for (const r of input.runtimes) models.add(r.model);
  const hardware = new Set<string>(["cpu", ...input.inventory.gpus.map((g) => g.id)]);
  for (const r of local) hardware.add(r.spec.hardware);
  if (local.length !== input.runtimes.length) hardware.add(REMOTE_HARDWARE);
  const sandboxes = new Set<SandboxKind>(input.sandboxes.map((s) => s.kind));
  sandboxes.add("none");
  for (const r of local) sandboxes.add(r.spec.sandbox.kind);
  return {
    models: [...models].sort(byText),
    hardware: [...hardware].sort(hardwareOrder),
    sandboxes: SANDBOX_ORDER.filter((kind) => sandboxes.has(kind)),
  };
}

// ─── Fit ─────────────────────────────────────────────────────────────────────────────────────

/** Memoises estimates per (model, context, slots): a thousand cells share a handful of them. */
class EstimateCache {
  private readonly cache = new Map<string, MemoryEstimate>();
  get(
    model: ModelFacts & { gguf: GgufInfo },
    context: number | undefined,
    slots: number | undefined,
  ): MemoryEstimate {
    const key = `${model.id}\u0000${context ?? ""}\u0000${slots ?? ""}`;
    let estimate = this.cache.get(key);
    if (estimate === undefined) {
      const opts: { context?: number; slots?: number } = {};
      if (context !== undefined) opts.context = context;
      if (slots !== undefined) opts.slots = slots;
      estimate = estimateMemory(model.gguf, opts);
      this.cache.set(key, estimate);
    }
    return estimate;
  }
}

function fitTarget(
  hardware: string,
  inventory: HardwareInventory,
  sample: HardwareSample | undefined,
  ownRss: number,
): FitTarget | undefined {
  if (hardware === "cpu") {
    // The cell's own runtimes already hold their model: count that memory as theirs, not as taken.
    const available = (sample?.memory.available_bytes ?? inventory.memory.total_bytes) + ownRss;
    return { kind: "cpu", id: "cpu", available_bytes: Math.min(available, inventory.memory.total_bytes) };
  }
  // A GPU list (`gpu:0,1`, tensor parallelism) holds the model across its GPUs: the sum of their VRAM.
  const ids = gpuIndices(hardware).map((n) => `gpu:${n}`);
  const gpus = ids.map((id) => inventory.gpus.find((g) => g.id === id));
  if (ids.length === 0 || gpus.includes(undefined)) return undefined;
  const vrams = gpus.map(
    (gpu) => gpu?.vram_bytes ?? sample?.gpus.find((g) => g.id === gpu?.id)?.vram_total_bytes,
  );
  const vram = vrams.includes(undefined) ? undefined : sumDefined(vrams);
  return vram === undefined ? { kind: "gpu", id: hardware } : { kind: "gpu", id: hardware, vram_bytes: vram };
}

export function cellFit(
  model: ModelFacts | undefined,
  modelId: string,
  hardware: string,
  runtimes: readonly MatrixRuntime[],
  input: Pick<MatrixInput, "inventory" | "sample">,
  estimates = new EstimateCache(),
): FitVerdict {
  if (hardware === REMOTE_HARDWARE) {
    return { fits: "unknown", reason: "remote endpoint: its memory is the provider's" };
  }
  if (model?.gguf === undefined && model?.estimate !== undefined) {
    const ownRss = sumDefined(runtimes.map((r) => processOf(r, input.sample)?.rss_bytes)) ?? 0;
    return fitForEstimate(model.estimate, hardware, input, ownRss);
  }
  if (model?.gguf === undefined) {
    const why = model?.error ?? `no GGUF file is known for model "${modelId}"`;
    return { fits: "unknown", reason: why };
  }
  const contexts = runtimes.flatMap((r) => (r.spec.context !== undefined ? [r.spec.context] : []));
  const slots = runtimes.flatMap((r) => (r.spec.slots !== undefined ? [r.spec.slots] : []));
  const context = contexts.length > 0 ? Math.max(...contexts) : undefined;
  const slotCount = slots.length > 0 ? Math.max(...slots) : undefined;
  const estimate = estimates.get(model as ModelFacts & { gguf: GgufInfo }, context, slotCount);
  const ownRss = sumDefined(runtimes.map((r) => processOf(r, input.sample)?.rss_bytes)) ?? 0;
  return fitForEstimate(estimate, hardware, input, ownRss);
}

/** An estimate against one hardware id: cpu → available memory (+ `ownRss`), gpu:N → its VRAM. */
export function fitForEstimate(
  estimate: MemoryEstimate,
  hardware: string,
  input: Pick<MatrixInput, "inventory" | "sample">,
  ownRss = 0,
): FitVerdict {
  const target = fitTarget(hardware, input.inventory, input.sample, ownRss);
  if (target === undefined) {
    return {
      fits: "unknown",
      need_bytes: estimate.total_bytes,
      reason: `${estimate.explanation}; hardware ${hardware} is not on this machine`,
    };
  }
  return fitOn(estimate, target);
}

// ─── Status ──────────────────────────────────────────────────────────────────────────────────

function where(model: string, hardware: string, sandbox: string): string {
  return hardware === REMOTE_HARDWARE
    ? `Model ${model} on a remote endpoint`
    : `Model ${model} on ${hardware} in sandbox ${sandbox}`;
}

function rateText(throughput: Throughput): string | undefined {
  const g = throughput.generated_tokens_per_second;
  return g === undefined ? undefined : `${g} generated tokens per second`;
}

export function cellStatus(
  model: string,
  hardware: string,
  sandbox: string,
  runtimes: readonly RuntimeView[],
  extra: { unavailable?: string; throughput?: Throughput } = {},
): StatusObject {
  const place = where(model, hardware, sandbox);
  if (runtimes.length === 0) {
    const detail = finalizeReasons(
      extra.unavailable !== undefined ? [`Unavailable: ${extra.unavailable}`] : [],
    );
    const status: StatusObject = {
      code: "offline",
      severity: "info",
      severity_label: severityLabel("info"),
      label: NO_RUNTIME_LABEL,
      aria_hint: `${place}: ${NO_RUNTIME_LABEL}.${detail.length > 0 ? ` ${detail.join("; ")}` : ""}`,
    };
    if (detail.length > 0) status.detail = detail;
    return status;
  }
  let best = runtimes[0] as RuntimeView;
  for (const rt of runtimes) if (CODE_RANK[rt.status.code] < CODE_RANK[best.status.code]) best = rt;
  const ready = runtimes.filter((rt) => rt.status.code === "ready").length;
  const label =
    runtimes.length === 1
      ? best.status.label
      : `${best.status.label} (${ready} of ${runtimes.length} runtimes ready)`;
  const lines = runtimes.map((rt) => `${rt.id}: ${rt.status.label}`);
  if (extra.unavailable !== undefined) lines.push(`Unavailable: ${extra.unavailable}`);
  if (extra.throughput?.note !== undefined) lines.push(extra.throughput.note);
  const detail = finalizeReasons(lines);
  const rate = extra.throughput ? rateText(extra.throughput) : undefined;
  const status: StatusObject = {
    code: best.status.code,
    severity: best.status.severity,
    severity_label: best.status.severity_label,
    label,
    detail,
    aria_hint: `${place}: ${label}.${rate !== undefined ? ` ${rate}.` : ""} ${detail.join("; ")}`,
  };
  return status;
}

// ─── Health, throughput, load ────────────────────────────────────────────────────────────────

function sumDefined(values: readonly (number | undefined)[]): number | undefined {
  let sum: number | undefined;
  for (const v of values) if (v !== undefined) sum = (sum ?? 0) + v;
  return sum;
}

function maxDefined(values: readonly (number | undefined)[]): number | undefined {
  let max: number | undefined;
  for (const v of values) if (v !== undefined && (max === undefined || v > max)) max = v;
  return max;
}

/** Requests and errors add up; latencies take the worst runtime (a cell is as slow as its slowest path). */
export function mergeHealth(summaries: readonly LatencySummary[]): LatencySummary | undefined {
  const first = summaries[0];
  if (first === undefined) return undefined;
  if (summaries.length === 1) return first;
  const requests = summaries.reduce((n, s) => n + s.requests, 0);
  const errors = summaries.reduce((n, s) => n + s.errors, 0);
  const merged: LatencySummary = {
    window_seconds: Math.max(...summaries.map((s) => s.window_seconds)),
    requests,
    errors,
    error_rate: requests === 0 ? 0 : Math.round((errors / requests) * 10_000) / 10_000,
  };
  const p50 = maxDefined(summaries.map((s) => s.p50_ms));
  const p95 = maxDefined(summaries.map((s) => s.p95_ms));
  const ewma = maxDefined(summaries.map((s) => s.ewma_ms));
  if (p50 !== undefined) merged.p50_ms = p50;
  if (p95 !== undefined) merged.p95_ms = p95;
  if (ewma !== undefined) merged.ewma_ms = ewma;
  const lastError = summaries.find((s) => s.last_error !== undefined)?.last_error;
  if (lastError !== undefined) merged.last_error = lastError;
  const lastOk = summaries
    .map((s) => s.last_ok_at)
    .filter((t): t is string => t !== undefined)
    .sort(byText)
    .at(-1);
  if (lastOk !== undefined) merged.last_ok_at = lastOk;
  return merged;
}

export function sumThroughput(runtimes: readonly MatrixRuntime[]): Throughput {
  const rates = runtimes.flatMap((r) => (r.observation?.throughput ? [r.observation.throughput] : []));
  const out: Throughput = {};
  const generated = sumDefined(rates.map((t) => t.generated_tokens_per_second));
  const prompt = sumDefined(rates.map((t) => t.prompt_tokens_per_second));
  const window = maxDefined(rates.map((t) => t.window_seconds));
  if (generated !== undefined) out.generated_tokens_per_second = Math.round(generated * 10) / 10;
  if (prompt !== undefined) out.prompt_tokens_per_second = Math.round(prompt * 10) / 10;
  const audio = sumDefined(rates.map((t) => t.audio_seconds_per_second));
  if (audio !== undefined) out.audio_seconds_per_second = Math.round(audio * 10) / 10;
  const inferences = sumDefined(rates.map((t) => t.inferences_per_second));
  if (inferences !== undefined) out.inferences_per_second = Math.round(inferences * 10) / 10;
  if (window !== undefined) out.window_seconds = window;
  // A failed scrape must not look like a quiet backend.
  const failed = runtimes.flatMap((r) =>
    r.observation?.error !== undefined ? [`${r.view.id}: ${r.observation.error}`] : [],
  );
  if (failed.length > 0) out.note = `no throughput from ${failed.join("; ")}`;
  return out;
}

function processOf(r: MatrixRuntime, sample: HardwareSample | undefined) {
  return r.view.pid === undefined ? undefined : sample?.processes[r.view.pid];
}

/** Busy and total slots of one runtime: `/slots` when served, else `-np` with the requests in flight. */
function slotsOf(r: MatrixRuntime): { busy: number; total: number } | undefined {
  const slots = r.observation?.slots;
  if (slots !== undefined) return { busy: slots.filter((s) => s.is_processing).length, total: slots.length };
  const total = r.spec.slots;
  const processing = r.observation?.metrics?.requests_processing;
  if (total === undefined || processing === undefined) return undefined;
  return { busy: Math.min(total, processing), total };
}

export function cellLoad(
  hardware: string,
  runtimes: readonly MatrixRuntime[],
  sample: HardwareSample | undefined,
  lease: LeaseCount | undefined,
): CellLoad {
  const metrics = runtimes.map((r) => r.observation?.metrics);
  const slots = runtimes.map(slotsOf);
  const procs = runtimes.map((r) => processOf(r, sample));
  const load: CellLoad = {
    leases_held: lease?.held ?? 0,
    lease_capacity: lease?.capacity ?? runtimes.reduce((n, r) => n + (r.spec.slots ?? 1), 0),
  };
  const processing = sumDefined(metrics.map((m) => m?.requests_processing));
  const deferred = sumDefined(metrics.map((m) => m?.requests_deferred));
  const busy = sumDefined(slots.map((s) => s?.busy));
  const total = sumDefined(slots.map((s) => s?.total));
  const cpu = sumDefined(procs.map((p) => p?.cpu_percent));
  const rss = sumDefined(procs.map((p) => p?.rss_bytes));
  if (processing !== undefined) load.requests_processing = processing;
  if (deferred !== undefined) load.requests_deferred = deferred;
  if (busy !== undefined) load.slots_busy = busy;
  if (total !== undefined) load.slots_total = total;
  if (cpu !== undefined) load.cpu_percent = Math.round(cpu * 10) / 10;
  if (rss !== undefined) load.rss_bytes = rss;
  // GPU figures describe the device, so they belong to a cell only while one of its runtimes is on it.
  const gpu = hardware.startsWith("gpu:") ? sample?.gpus.find((g) => g.id === hardware) : undefined;
  if (gpu !== undefined && runtimes.some((r) => stateMayHaveProcess(r.view.state))) {
    if (gpu.util_percent !== undefined) load.gpu_util_percent = gpu.util_percent;
    if (gpu.vram_used_bytes !== undefined && gpu.vram_total_bytes !== undefined && gpu.vram_total_bytes > 0) {
      load.vram_share = Math.round((gpu.vram_used_bytes / gpu.vram_total_bytes) * 1000) / 1000;
    }
  }
  return load;
}

// ─── Availability ────────────────────────────────────────────────────────────────────────────

function unavailableReason(
  hardware: string,
  sandbox: SandboxKind,
  input: Pick<MatrixInput, "inventory" | "sandboxes">,
): string | undefined {
  if (hardware === REMOTE_HARDWARE) return undefined;
  const reasons: string[] = [];
  if (hardware !== "cpu" && !input.inventory.gpus.some((g) => g.id === hardware)) {
    const has = ["cpu", ...input.inventory.gpus.map((g) => g.id)].join(", ");
    reasons.push(`hardware ${hardware} is not on this machine (it has: ${has})`);
  }
  if (sandbox !== "none") {
    const detection = input.sandboxes.find((s) => s.kind === sandbox);
    if (detection === undefined) reasons.push(`sandbox ${sandbox} was not detected on this machine`);
    else if (!detection.available) {
      reasons.push(`sandbox ${sandbox} is unavailable: ${detection.reason ?? "no reason given"}`);
    }
  }
  return reasons.length > 0 ? reasons.join("; ") : undefined;
}

// ─── Capabilities ────────────────────────────────────────────────────────────────────────────

/** Capabilities in their canonical order (CAPABILITIES), each once. */
function ordered(caps: Iterable<Capability>): Capability[] {
  const set = new Set(caps);
  return CAPABILITIES.filter((c) => set.has(c));
}

/** What a cell's runtimes serve: the union of their adapters' capabilities. */
export function capabilitiesOf(runtimes: readonly Pick<MatrixRuntime, "spec">[]): Capability[] {
  return ordered(runtimes.flatMap((r) => getAdapter(r.spec.adapter).capabilities));
}

/** Per model: what its runtimes (on any cell) serve; the same model elsewhere would be served the same way. */
function capabilitiesByModel(runtimes: readonly MatrixRuntime[]): Map<string, Capability[]> {
  const byModel = new Map<string, MatrixRuntime[]>();
  for (const r of runtimes) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r]);
  return new Map([...byModel].map(([model, rs]) => [model, capabilitiesOf(rs)]));
}

/**
 * A cell no runtime serves, of a model no runtime names: what llama.cpp (the adapter that serves GGUF) would
 * serve when the model is a GGUF file; otherwise unknown (a whisper or ONNX file without a runtime is not told
 * apart here), and the cell has no `capabilities`.
 */
function formatCapabilities(model: ModelFacts | undefined): Capability[] | undefined {
  return model?.gguf !== undefined ? ordered(getAdapter("llama.cpp").capabilities) : undefined;
}

// ─── The matrix ──────────────────────────────────────────────────────────────────────────────

/** The key of the cell a runtime serves. */
export function keyOfRuntime(r: Pick<MatrixRuntime, "spec" | "model">): string {
  return !getAdapter(r.spec.adapter).spawns
    ? cellKey(r.model, REMOTE_HARDWARE, "none")
    : cellKey(r.model, r.spec.hardware, r.spec.sandbox.kind);
}

export function composeMatrix(input: MatrixInput, clock: Clock): MatrixResult {
  const updated = rfc3339(clock.now());
  const axes = matrixAxes(input);
  const byKey = new Map<string, MatrixRuntime[]>();
  for (const r of input.runtimes) {
    const key = keyOfRuntime(r);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [r]);
    else list.push(r);
  }
  const facts = new Map(input.models.map((m) => [m.id, m]));
  const modelCapabilities = capabilitiesByModel(input.runtimes);
  const estimates = new EstimateCache();
  const cells: MatrixCell[] = [];
  // A thousand cells share nine (hardware, sandbox) availabilities and, without runtimes, one fit per
  // (model, hardware): compute each once.
  const unavailableMemo = new Map<string, string | undefined>();
  const idleFitMemo = new Map<string, FitVerdict>();
  const cell = (model: string, hardware: string, sandbox: SandboxKind): MatrixCell => {
    const key = cellKey(model, hardware, sandbox);
    const runtimes = byKey.get(key) ?? [];
    const place = `${hardware}/${sandbox}`;
    let unavailable = unavailableMemo.get(place);
    if (!unavailableMemo.has(place)) {
      unavailable = unavailableReason(hardware, sandbox, input);
      unavailableMemo.set(place, unavailable);
    }
    const lease = input.leases?.(key);
    const views = runtimes.map((r) => r.view);
    let fit: FitVerdict;
    let throughput: Throughput;
    let load: CellLoad;
    if (runtimes.length === 0) {
      const fitKey = `${model}\u0000${hardware}`;
      const known = idleFitMemo.get(fitKey);
      fit = known ?? cellFit(facts.get(model), model, hardware, runtimes, input, estimates);
      if (known === undefined) idleFitMemo.set(fitKey, fit);
      fit = { ...fit };
      throughput = {};
      load = { leases_held: lease?.held ?? 0, lease_capacity: lease?.capacity ?? 0 };
    } else {
      fit = cellFit(facts.get(model), model, hardware, runtimes, input, estimates);
      throughput = sumThroughput(runtimes);
      load = cellLoad(hardware, runtimes, input.sample, lease);
    }
    const requests = runtimes.length === 0 ? undefined : input.requests?.(key);
    const out: MatrixCell = {
      key,
      model,
      hardware,
      sandbox,
      available: unavailable === undefined,
      runtimes: views.map((v) => v.id),
      status: cellStatus(model, hardware, sandbox, views, {
        ...(unavailable !== undefined ? { unavailable } : {}),
        throughput,
      }),
      throughput,
      load,
      fit,
      updated,
    };
    if (unavailable !== undefined) out.unavailable_reason = unavailable;
    const capabilities =
      runtimes.length > 0
        ? capabilitiesOf(runtimes)
        : (modelCapabilities.get(model) ?? formatCapabilities(facts.get(model)));
    if (capabilities !== undefined) out.capabilities = capabilities;
    const health = mergeHealth(views.map((v) => v.health));
    if (health !== undefined) out.health = health;
    if (requests !== undefined) out.requests = requests;
    return out;
  };
  const localHardware = axes.hardware.filter((h) => h !== REMOTE_HARDWARE);
  for (const model of axes.models) {
    for (const hardware of localHardware) {
      for (const sandbox of axes.sandboxes) {
        if (input.servingOnly === true && !byKey.has(cellKey(model, hardware, sandbox))) continue;
        cells.push(cell(model, hardware, sandbox));
      }
    }
  }
  // Remote endpoints have no hardware or sandbox of ours: one cell per remote model.
  const remoteModels = new Set(
    input.runtimes.filter((r) => !getAdapter(r.spec.adapter).spawns).map((r) => r.model),
  );
  for (const model of [...remoteModels].sort(byText)) cells.push(cell(model, REMOTE_HARDWARE, "none"));
  return { generated: updated, axes, cells };
}

/** Status code per cell key: what `matrix.changed` compares. */
export function statusCodes(cells: readonly MatrixCell[]): Map<string, StatusCode> {
  return new Map(cells.map((c) => [c.key, c.status.code]));
}

/** What differs between two status-code maps; `undefined` when nothing does. */
export function diffStatusCodes(
  before: ReadonlyMap<string, StatusCode>,
  after: ReadonlyMap<string, StatusCode>,
): MatrixChange | undefined {
  const change: MatrixChange = { changed: [], added: [], removed: [] };
  for (const [key, to] of after) {
    const from = before.get(key);
    if (from === undefined) change.added.push(key);
    else if (from !== to) change.changed.push({ key, from, to });
  }
  for (const key of before.keys()) if (!after.has(key)) change.removed.push(key);
  return change.changed.length + change.added.length + change.removed.length === 0 ? undefined : change;
}
