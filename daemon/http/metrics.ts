/**
 * `GET /metrics`: the daemon's state in Prometheus text format. Gauges are written straight from one status
 * snapshot per scrape (a scrape costs one composition, nothing between scrapes, and no per-series label
 * objects); counters and histograms live in prom-client and are fed as things happen (restarts from the bus, probes from the supervisors, requests from whoever
 * routes them: chat.respond now, the gateway later, both through `RequestRecorder`).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Histogram, Registry } from "prom-client";
import type { LlamaMetrics } from "../../adapters/types.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { RuntimeState, RuntimeStatusResult } from "../../ipc/protocol/runtime.js";

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

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A gauge family written as text: HELP, TYPE, then one line per series. */
class GaugeText {
  private lines: string[] = [];
  constructor(
    private readonly name: string,
    private readonly help: string,
  ) {}
  add(labels: string, value: number): void {
    this.lines.push(`${this.name}{${labels}} ${value}`);
  }
  text(): string {
    const out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.lines.join("\n")}\n`;
    this.lines = [];
    return out;
  }
}

type Placement = { model?: string; hardware: string; sandbox: string };

/** The daemon's metrics; `render` takes the snapshot at scrape time. */
export class DaemonMetrics implements RequestRecorder {
  readonly registry = new Registry();
  private readonly restarts: Counter;
  private readonly probes: Histogram;
  private readonly requests: Counter;
  private readonly requestSeconds: Histogram;
  private readonly ttft: Histogram;
  /** Labels of each runtime as last seen, so restarts and probes carry the same set as the gauges. */
  private readonly labelsOf = new Map<string, Record<string, string>>();
  private readonly placement: ((id: string) => Placement | undefined) | undefined;
  private readonly nodeLabel: string;
  private readonly processMetrics: boolean;
  private readonly startedAt = Math.round(Date.now() / 1000 - process.uptime());
  /** 20 ms resolution: coarse enough to cost nothing, fine enough to see a blocked loop. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

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
    const registers = [this.registry];
    const labelNames = [...RUNTIME_LABELS];
    this.restarts = new Counter({
      name: "rmx_restarts_total",
      help: "Restarts recorded since the daemon started, by reason (automatic, requested)",
      labelNames: [...labelNames, "reason"],
      registers,
    });
    this.probes = new Histogram({
      name: "rmx_probe_duration_seconds",
      help: "Health and inference probe durations",
      labelNames: [...labelNames, "probe"],
      buckets: PROBE_BUCKETS,
      registers,
    });
    this.requests = new Counter({
      name: "rmx_requests_total",
      help: "Routed requests by model, cell and HTTP status code",
      labelNames: ["model", "cell", "code", "node"],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: "rmx_request_duration_seconds",
      help: "Routed request durations",
      labelNames: ["model", "cell", "node"],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: "rmx_time_to_first_token_seconds",
      help: "Time to the first streamed token of routed requests",
      labelNames: ["model", "cell", "node"],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.processMetrics = opts.processMetrics !== false;
    if (this.processMetrics) this.loopDelay.enable();
  }

  /**
   * The daemon's own process, a cheap subset of prom-client's defaults (no /proc reads per scrape):
   * memory, CPU, heap, start time and event-loop delay.
   */
  private renderProcess(): string {
    if (!this.processMetrics) return "";
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const lines = [
      ["rmxd_process_resident_memory_bytes", "gauge", "Resident memory of rmxd", mem.rss],
      [
        "rmxd_process_cpu_seconds_total",
        "counter",
        "CPU time of rmxd (user + system)",
        (cpu.user + cpu.system) / 1e6,
      ],
      ["rmxd_nodejs_heap_used_bytes", "gauge", "V8 heap in use", mem.heapUsed],
      ["rmxd_process_start_time_seconds", "gauge", "When rmxd started (Unix seconds)", this.startedAt],
      [
        "rmxd_nodejs_eventloop_delay_p99_seconds",
        "gauge",
        "p99 event-loop delay since the previous scrape",
        this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e9 : 0,
      ],
    ] as const;
    this.loopDelay.reset();
    return lines
      .map(
        ([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`,
      )
      .join("");
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
    this.probes.observe({ ...this.runtimeLabels(id), probe }, ms / 1000);
  }

  record(r: RequestObservation): void {
    const labels = { model: r.model, cell: r.cell, node: this.node };
    this.requests.inc({ ...labels, code: r.code });
    this.requestSeconds.observe(labels, r.seconds);
    if (r.ttft_seconds !== undefined) this.ttft.observe(labels, r.ttft_seconds);
  }

  /** The snapshot's gauges; a runtime that is gone has no series. */
  private renderGauges(snapshot: MetricsSnapshot): string {
    const state = new GaugeText("rmx_runtime_state", "1 for the runtime's current state, 0 for the others");
    const ready = new GaugeText("rmx_runtime_ready", "1 when ready");
    const remaining = new GaugeText("rmx_restart_budget_remaining", "Restarts left in the budget window");
    const max = new GaugeText("rmx_restart_budget_max", "Restarts allowed per budget window");
    const reset = new GaugeText(
      "rmx_restart_budget_reset_timestamp_seconds",
      "When the oldest counted restart leaves the window (Unix seconds); absent when none is counted",
    );
    const tps = new GaugeText(
      "rmx_cell_tokens_per_second",
      "Generated tokens per second of a matrix cell over the last scrape window",
    );
    for (const rt of snapshot.status.runtimes) {
      const model = rt.model ?? "";
      const known = this.labelsOf.get(rt.id);
      if (known?.model !== model || known.hardware !== rt.hardware || known.sandbox !== rt.sandbox)
        this.labelsOf.set(rt.id, {
          runtime: rt.id,
          model,
          hardware: rt.hardware,
          sandbox: rt.sandbox,
          node: this.node,
        });
      const labels = `runtime="${escapeLabel(rt.id)}",model="${escapeLabel(model)}",hardware="${escapeLabel(rt.hardware)}",sandbox="${escapeLabel(rt.sandbox)}",${this.nodeLabel}`;
      for (const s of STATES) state.add(`${labels},state="${s}"`, s === rt.state ? 1 : 0);
      ready.add(labels, rt.state === "ready" ? 1 : 0);
      const budget = rt.restart_budget;
      remaining.add(labels, budget.remaining);
      max.add(labels, budget.max_restarts);
      if (budget.reset_at !== undefined) reset.add(labels, Date.parse(budget.reset_at) / 1000);
    }
    for (const cell of snapshot.cells) {
      const rate = cell.throughput.generated_tokens_per_second;
      if (rate === undefined) continue;
      tps.add(
        `cell="${escapeLabel(cell.key)}",model="${escapeLabel(cell.model)}",hardware="${escapeLabel(cell.hardware)}",sandbox="${escapeLabel(cell.sandbox)}",${this.nodeLabel}`,
        rate,
      );
    }
    return [state, ready, remaining, max, reset, tps].map((g) => g.text()).join("");
  }

  /** The backends' own gauges and counters, last sample per runtime, as `llamacpp_<name>{runtime,node}`. */
  private renderBackend(backend: ReadonlyMap<string, LlamaMetrics>): string {
    const byName = new Map<string, string[]>();
    for (const [id, metrics] of backend) {
      const labels = `{runtime="${escapeLabel(id)}",${this.nodeLabel}}`;
      for (const [name, value] of Object.entries(metrics)) {
        if (typeof value !== "number") continue;
        const lines = byName.get(name) ?? [];
        if (lines.length === 0) byName.set(name, lines);
        lines.push(`llamacpp_${name}${labels} ${value}`);
      }
    }
    let out = "";
    for (const [name, lines] of byName) {
      const type = name.endsWith("_total") ? "counter" : "gauge";
      out += `# HELP llamacpp_${name} llama-server's ${name}, last sample rmxd scraped\n`;
      out += `# TYPE llamacpp_${name} ${type}\n${lines.join("\n")}\n`;
    }
    return out;
  }

  async render(snapshot: MetricsSnapshot): Promise<string> {
    const gauges = this.renderGauges(snapshot);
    return (
      gauges + (await this.registry.metrics()) + this.renderBackend(snapshot.backend) + this.renderProcess()
    );
  }

  get contentType(): string {
    return this.registry.contentType;
  }
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
