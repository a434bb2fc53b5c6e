/**
 * `GET /metrics`: the daemon's state in Prometheus text format, rendered for ≤ 5 ms per scrape at 50 runtimes
 * (bench/metrics-render.mjs). Every part keeps its text between scrapes and redoes only what changed:
 * counters and histograms (daemon/http/metric-text.ts) re-format a series when it is fed (restarts from the
 * bus, probes from the supervisors, requests from whoever routes them, through `RequestRecorder`); the
 * gauges from the status snapshot keep each runtime's label string and its lines while its placement, state
 * and budget stay the same; the backends' samples keep their lines while the matrix holds the same sample.
 */
import { getHeapStatistics } from "node:v8";
import type { LlamaMetrics } from "../../adapters/types.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { RuntimeState, RuntimeStatusResult } from "../../ipc/protocol/runtime.js";
import { type LoopDelayWindow, sharedLoopDelay } from "../telemetry/loop-delay.js";
import { CounterText, escapeLabel, formatValue, HistogramText, type Labels } from "./metric-text.js";

const STATES: readonly RuntimeState[] = [
  "stopped",
  "starting",
  "ready",
  "degraded",
  "backoff",
  "exhausted",
  "stopping",
  "failed",
  "idle",
];
const RUNTIME_LABELS = ["runtime", "model", "hardware", "sandbox", "node"] as const;
const REQUEST_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const PROBE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One routed request, as a gateway or chat.respond saw it. */
export interface RequestObservation {
  model: string;
  cell: string;
  /** HTTP status code as text ("200", "502"), or "error" when none was received. */
  code: string;
  seconds: number;
  /** Time to the first streamed token, when the request streamed. */
  ttft_seconds?: number;
}

export interface RequestRecorder {
  record(request: RequestObservation): void;
}

export interface MetricsSnapshot {
  status: RuntimeStatusResult;
  cells: readonly MatrixCell[];
  backend: ReadonlyMap<string, LlamaMetrics>;
}

type Placement = { model?: string; hardware: string; sandbox: string };

/** The exposition format's content type (text 0.0.4, what prom-client serves). */
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const GAUGES = {
  state: ["rmx_runtime_state", "1 for the runtime's current state, 0 for the others"],
  ready: ["rmx_runtime_ready", "1 when ready"],
  remaining: ["rmx_restart_budget_remaining", "Restarts left in the budget window"],
  max: ["rmx_restart_budget_max", "Restarts allowed per budget window"],
  reset: [
    "rmx_restart_budget_reset_timestamp_seconds",
    "When the oldest counted restart leaves the window (Unix seconds); absent when none is counted",
  ],
} as const;
type GaugeName = keyof typeof GAUGES;
const GAUGE_NAMES = Object.keys(GAUGES) as GaugeName[];
const gaugeHeader = (name: string, help: string) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`;
const TPS_NAME = "rmx_cell_tokens_per_second";
const TPS_HEADER = gaugeHeader(
  TPS_NAME,
  "Generated tokens per second of a matrix cell over the last scrape window",
);

/** One runtime's gauge lines as last rendered, and what they were rendered from. */
interface RuntimeLines {
  /** id, model, hardware, sandbox: the label set. */
  placement: string;
  labels: string;
  /** state, remaining, max, reset_at: the values. */
  values: string;
  lines: Record<GaugeName, string>;
}

/** One backend sample's lines, by metric name; kept while the matrix holds the same sample object. */
type BackendLines = ReadonlyMap<string, string>;

/** The daemon's metrics; `render` takes the snapshot at scrape time. */
interface RequestSeries {
  labels: Readonly<Record<string, string>>;
  byCode: Map<string, Readonly<Record<string, string>>>;
}

export class DaemonMetrics implements RequestRecorder {
  private readonly restarts: CounterText;
  private readonly probes: HistogramText;
  private readonly requests: CounterText;
  private readonly requestSeconds: HistogramText;
  private readonly ttft: HistogramText;
  /** Labels of each runtime as last seen, so restarts and probes carry the same set as the gauges. */
  private readonly labelsOf = new Map<string, Record<string, string>>();
  /** Each runtime's probe labels, per probe kind, for its labels object of the time (`probeLabels`). */
  private readonly probeLabelsOf = new Map<
    string,
    { base: Record<string, string>; byProbe: Map<string, Labels> }
  >();
  private readonly requestLabels = new Map<string, RequestSeries>();
  /** The series recorded last: a request of the same one builds no key. */
  private lastRequest: RequestSeries | undefined;
  private readonly placement: ((id: string) => Placement | undefined) | undefined;
  private readonly nodeLabel: string;
  private readonly processMetrics: boolean;
  private readonly startedAt = Math.round(Date.now() / 1000 - process.uptime());
  /** 20 ms resolution: coarse enough to cost nothing, fine enough to see a blocked loop. */
  /** Since the previous scrape, on the daemon's one loop-delay monitor (telemetry/loop-delay.ts). */
  private readonly loopDelay: LoopDelayWindow | undefined;
  private runtimeLines = new Map<string, RuntimeLines>();
  private cellLines = new Map<string, { key: string; rate: number; line: string }>();
  private backendLines = new WeakMap<LlamaMetrics, BackendLines>();

  /**
   * `placement` gives a runtime's model, hardware and sandbox (as `runtime.status` shows them), so a
   * restart or probe counted before the first scrape carries the same labels as the gauges.
   */
  constructor(
    private readonly node: string,
    opts: { processMetrics?: boolean; placement?: (id: string) => Placement | undefined } = {},
  ) {
    this.placement = opts.placement;
    this.nodeLabel = `node="${escapeLabel(node)}"`;
    const labelNames = [...RUNTIME_LABELS];
    this.restarts = new CounterText(
      "rmx_restarts_total",
      "Restarts recorded since the daemon started, by reason (automatic, requested)",
      [...labelNames, "reason"],
    );
    this.probes = new HistogramText(
      "rmx_probe_duration_seconds",
      "Health and inference probe durations",
      [...labelNames, "probe"],
      PROBE_BUCKETS,
    );
    this.requests = new CounterText(
      "rmx_requests_total",
      "Routed requests by model, cell and HTTP status code",
      ["model", "cell", "node", "code"],
    );
    this.requestSeconds = new HistogramText(
      "rmx_request_duration_seconds",
      "Routed request durations",
      ["model", "cell", "node"],
      REQUEST_BUCKETS,
    );
    this.ttft = new HistogramText(
      "rmx_time_to_first_token_seconds",
      "Time to the first streamed token of routed requests",
      ["model", "cell", "node"],
      REQUEST_BUCKETS,
    );
    this.processMetrics = opts.processMetrics !== false;
    if (this.processMetrics) this.loopDelay = sharedLoopDelay.open();
  }

  /**
   * The daemon's own process, a cheap subset of prom-client's defaults (no /proc reads per scrape):
   * memory, CPU, heap, start time and event-loop delay. `resourceUsage` and `memoryUsage.rss` are one
   * syscall each; `memoryUsage()` (which walks the heap spaces) is not called.
   */
  private renderProcess(): string {
    if (!this.processMetrics) return "";
    const usage = process.resourceUsage();
    const lines = [
      ["rmxd_process_resident_memory_bytes", "gauge", "Resident memory of rmxd", process.memoryUsage.rss()],
      [
        "rmxd_process_cpu_seconds_total",
        "counter",
        "CPU time of rmxd (user + system)",
        (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      ],
      ["rmxd_nodejs_heap_used_bytes", "gauge", "V8 heap in use", heapUsed()],
      ["rmxd_process_start_time_seconds", "gauge", "When rmxd started (Unix seconds)", this.startedAt],
      [
        "rmxd_nodejs_eventloop_delay_p99_seconds",
        "gauge",
        "p99 event-loop delay since the previous scrape",
        (this.loopDelay?.percentile(99) ?? 0) / 1000,
      ],
    ] as const;
    this.loopDelay?.reset();
    let out = "";
    for (const [name, type, help, value] of lines)
      out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${formatValue(value)}\n`;
    return out;
  }

  private runtimeLabels(id: string): Record<string, string> {
    const known = this.labelsOf.get(id);
    if (known !== undefined) return known;
    const p = this.placement?.(id);
    const labels = {
      runtime: id,
      model: p?.model ?? "",
      hardware: p?.hardware ?? "",
      sandbox: p?.sandbox ?? "",
      node: this.node,
    };
    if (p !== undefined) this.labelsOf.set(id, labels);
    return labels;
  }

  restart(id: string, automatic: boolean): void {
    this.restarts.inc({ ...this.runtimeLabels(id), reason: automatic ? "automatic" : "requested" });
  }

  probe(id: string, probe: string, ms: number): void {
    this.probes.observe(this.probeLabels(id, probe), ms / 1000);
  }

  /**
   * A runtime's probe labels, frozen and kept while its labels are the same object (they are replaced,
   * never changed, when its placement does): the histogram then finds the series by the object, and a
   * probe builds no labels object and no series key.
   */
  private probeLabels(id: string, probe: string): Labels {
    const base = this.runtimeLabels(id);
    let kept = this.probeLabelsOf.get(id);
    if (kept === undefined || kept.base !== base) {
      kept = { base, byProbe: new Map() };
      // Not kept for labels made up for a runtime without a placement (a fresh object each time).
      if (this.labelsOf.get(id) === base) this.probeLabelsOf.set(id, kept);
    }
    let labels = kept.byProbe.get(probe);
    if (labels === undefined) {
      labels = Object.freeze({ ...base, probe });
      kept.byProbe.set(probe, labels);
    }
    return labels;
  }

  record(r: RequestObservation): void {
    // Label objects per series, made once: a request costs two map lookups, not three fresh objects.
    // Bounded: models and cells are configured ones (a made-up model name is counted under "").
    // Frozen, so the families know the object names the same series next time (metric-text.ts).
    let series = this.lastRequest;
    if (series === undefined || series.labels.model !== r.model || series.labels.cell !== r.cell) {
      const key = `${r.model}\u0000${r.cell}`;
      series = this.requestLabels.get(key);
      if (series === undefined) {
        series = {
          labels: Object.freeze({ model: r.model, cell: r.cell, node: this.node }),
          byCode: new Map(),
        };
        this.requestLabels.set(key, series);
      }
      this.lastRequest = series;
    }
    const { labels } = series;
    let coded = series.byCode.get(r.code);
    if (coded === undefined) {
      coded = Object.freeze({ ...labels, code: r.code });
      series.byCode.set(r.code, coded);
    }
    this.requests.inc(coded);
    this.requestSeconds.observe(labels, r.seconds);
    if (r.ttft_seconds !== undefined) this.ttft.observe(labels, r.ttft_seconds);
  }

  /** A runtime's gauge lines: reused while its placement and values are what they were at the last scrape. */
  private linesOf(rt: RuntimeStatusResult["runtimes"][number]): RuntimeLines {
    const model = rt.model ?? "";
    const placement = `${rt.id}\u0000${model}\u0000${rt.hardware}\u0000${rt.sandbox}`;
    const budget = rt.restart_budget;
    const values = `${rt.state}\u0000${budget.remaining}\u0000${budget.max_restarts}\u0000${budget.reset_at ?? ""}`;
    const last = this.runtimeLines.get(rt.id);
    if (last !== undefined && last.placement === placement && last.values === values) return last;
    let labels = last?.labels;
    if (last === undefined || last.placement !== placement) {
      // Restarts and probes counted from now on carry the labels the gauges show.
      this.labelsOf.set(rt.id, {
        runtime: rt.id,
        model,
        hardware: rt.hardware,
        sandbox: rt.sandbox,
        node: this.node,
      });
      labels = `runtime="${escapeLabel(rt.id)}",model="${escapeLabel(model)}",hardware="${escapeLabel(rt.hardware)}",sandbox="${escapeLabel(rt.sandbox)}",${this.nodeLabel}`;
    }
    const l = labels as string;
    let state = "";
    for (const s of STATES) state += `${GAUGES.state[0]}{${l},state="${s}"} ${s === rt.state ? 1 : 0}\n`;
    const line = (name: GaugeName, value: number) => `${GAUGES[name][0]}{${l}} ${formatValue(value)}\n`;
    const lines: RuntimeLines = {
      placement,
      labels: l,
      values,
      lines: {
        state,
        ready: line("ready", rt.state === "ready" ? 1 : 0),
        remaining: line("remaining", budget.remaining),
        max: line("max", budget.max_restarts),
        reset: budget.reset_at === undefined ? "" : line("reset", Date.parse(budget.reset_at) / 1000),
      },
    };
    return lines;
  }

  /** The snapshot's gauges; a runtime (or cell) that is gone has no series, and its cached lines go too. */
  private renderGauges(snapshot: MetricsSnapshot): string {
    const now = new Map<string, RuntimeLines>();
    for (const rt of snapshot.status.runtimes) now.set(rt.id, this.linesOf(rt));
    this.runtimeLines = now;
    let out = "";
    for (const name of GAUGE_NAMES) {
      out += gaugeHeader(GAUGES[name][0], GAUGES[name][1]);
      for (const lines of now.values()) out += lines.lines[name];
    }
    const cells = new Map<string, { key: string; rate: number; line: string }>();
    out += TPS_HEADER;
    for (const cell of snapshot.cells) {
      const rate = cell.throughput.generated_tokens_per_second;
      if (rate === undefined) continue;
      const key = `${cell.key}\u0000${cell.model}\u0000${cell.hardware}\u0000${cell.sandbox}`;
      let last = this.cellLines.get(cell.key);
      if (last === undefined || last.key !== key || last.rate !== rate)
        last = {
          key,
          rate,
          line: `${TPS_NAME}{cell="${escapeLabel(cell.key)}",model="${escapeLabel(cell.model)}",hardware="${escapeLabel(cell.hardware)}",sandbox="${escapeLabel(cell.sandbox)}",${this.nodeLabel}} ${formatValue(rate)}\n`,
        };
      cells.set(cell.key, last);
      out += last.line;
    }
    this.cellLines = cells;
    return out;
  }

  /** One sample's lines by metric name, formatted once per sample object the matrix scraped. */
  private backendLinesOf(id: string, metrics: LlamaMetrics): BackendLines {
    const known = this.backendLines.get(metrics);
    if (known !== undefined) return known;
    const labels = `{runtime="${escapeLabel(id)}",${this.nodeLabel}}`;
    const lines = new Map<string, string>();
    for (const [name, value] of Object.entries(metrics))
      if (typeof value === "number") lines.set(name, `llamacpp_${name}${labels} ${formatValue(value)}\n`);
    this.backendLines.set(metrics, lines);
    return lines;
  }

  /** The backends' own gauges and counters, last sample per runtime, as `llamacpp_<name>{runtime,node}`. */
  private renderBackend(backend: ReadonlyMap<string, LlamaMetrics>): string {
    const byName = new Map<string, string>();
    for (const [id, metrics] of backend)
      for (const [name, line] of this.backendLinesOf(id, metrics))
        byName.set(name, (byName.get(name) ?? "") + line);
    let out = "";
    for (const [name, lines] of byName) {
      const type = name.endsWith("_total") ? "counter" : "gauge";
      out += `# HELP llamacpp_${name} llama-server's ${name}, last sample rmxd scraped\n`;
      out += `# TYPE llamacpp_${name} ${type}\n${lines}`;
    }
    return out;
  }

  async render(snapshot: MetricsSnapshot): Promise<string> {
    return (
      this.renderGauges(snapshot) +
      this.restarts.text() +
      this.probes.text() +
      this.requests.text() +
      this.requestSeconds.text() +
      this.ttft.text() +
      this.renderBackend(snapshot.backend) +
      this.renderProcess()
    );
  }

  get contentType(): string {
    return CONTENT_TYPE;
  }
}

/** V8's used heap without `process.memoryUsage()`'s walk of the whole heap and RSS read. */
function heapUsed(): number {
  return getHeapStatistics().used_heap_size;
}

/**
 * The daemon's metrics over its runtimes: labels from each runtime's spec (as the view shows it: this runs
 * inside the supervisor's event dispatch), restarts counted from `runtime.restart` events.
 */
export function metricsForRuntimes(
  nodeId: string,
  runtimes: ReadonlyMap<string, { readonly spec: RuntimeSpec }>,
  bus: { subscribe(topics: string[], fn: (event: { payload: unknown }) => void): unknown },
): DaemonMetrics {
  const metrics = new DaemonMetrics(nodeId, {
    placement: (id) => {
      const spec = runtimes.get(id)?.spec;
      return spec === undefined
        ? undefined
        : {
            ...(spec.model !== undefined ? { model: spec.model } : {}),
            hardware: spec.hardware,
            sandbox: spec.sandbox.kind,
          };
    },
  });
  bus.subscribe(["runtime.restart"], (event) => {
    const p = event.payload as { id: string; automatic: boolean };
    metrics.restart(p.id, p.automatic);
  });
  return metrics;
}
