/**
 * The fleet view: the runtime matrix across nodes, composed from a Prometheus server's instant queries
 * of every rmxd's `/metrics`. Pure: `composeFleet` takes the query results.
 */

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface FleetRow {
  node: string;
  runtime: string;
  model: string;
  hardware: string;
  sandbox: string;
  state: string;
  restarts_left?: number;
  restarts_max?: number;
  next_reset?: string;
  tokens_per_second?: number;
  error_rate?: number;
}

export const FLEET_QUERIES = {
  state: "rmx_runtime_state == 1",
  remaining: "rmx_restart_budget_remaining",
  max: "rmx_restart_budget_max",
  reset: "rmx_restart_budget_reset_timestamp_seconds",
  tps: "rmx_cell_tokens_per_second",
  errors:
    'sum by (node, cell) (rate(rmx_requests_total{code!~"2.."}[5m])) / sum by (node, cell) (rate(rmx_requests_total[5m]))',
} as const;

export type FleetResults = Record<keyof typeof FLEET_QUERIES, readonly PromSample[]>;

const key = (...parts: (string | undefined)[]) => parts.map((p) => p ?? "").join("\u0000");

function sampleValue(sample: PromSample): number | undefined {
  const n = Number(sample.value[1]);
  return Number.isFinite(n) ? n : undefined;
}

function byRuntime(samples: readonly PromSample[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const v = sampleValue(s);
    if (v !== undefined) out.set(key(s.metric.node, s.metric.runtime), v);
  }
  return out;
}

export function composeFleet(r: FleetResults): FleetRow[] {
  const remaining = byRuntime(r.remaining);
  const max = byRuntime(r.max);
  const reset = byRuntime(r.reset);
  const tps = new Map<string, number>();
  for (const s of r.tps) {
    const v = sampleValue(s);
    if (v !== undefined) tps.set(key(s.metric.node, s.metric.model, s.metric.hardware, s.metric.sandbox), v);
  }
  const errors = new Map<string, number>();
  for (const s of r.errors) {
    const v = sampleValue(s);
    if (v !== undefined) errors.set(key(s.metric.node, s.metric.cell), v);
  }
  const rows: FleetRow[] = [];
  for (const s of r.state) {
    const m = s.metric;
    const node = m.node ?? m.instance ?? "?";
    const id = key(m.node, m.runtime);
    const row: FleetRow = {
      node,
      runtime: m.runtime ?? "?",
      model: m.model ?? "",
      hardware: m.hardware ?? "",
      sandbox: m.sandbox ?? "",
      state: m.state ?? "?",
    };
    const left = remaining.get(id);
    if (left !== undefined) row.restarts_left = left;
    const cap = max.get(id);
    if (cap !== undefined) row.restarts_max = cap;
    const at = reset.get(id);
    if (at !== undefined) row.next_reset = new Date(at * 1000).toISOString();
    const rate = tps.get(key(m.node, m.model, m.hardware, m.sandbox));
    if (rate !== undefined) row.tokens_per_second = rate;
    const err = errors.get(key(m.node, `${m.model}@${m.hardware}/${m.sandbox}`));
    if (err !== undefined) row.error_rate = err;
    rows.push(row);
  }
  return rows.sort((a, b) => a.node.localeCompare(b.node) || a.runtime.localeCompare(b.runtime));
}

export function fleetTable(rows: readonly FleetRow[], formatTime: (iso: string) => string): string[] {
  const header = ["NODE", "RUNTIME", "CELL", "STATE", "HEADROOM", "NEXT RESET", "TOK/S", "ERRORS"];
  const body = rows.map((r) => [
    r.node,
    r.runtime,
    `${r.model || "-"}@${r.hardware}/${r.sandbox}`,
    r.state,
    r.restarts_left === undefined ? "-" : `${r.restarts_left}/${r.restarts_max ?? "?"}`,
    r.next_reset === undefined ? "-" : formatTime(r.next_reset),
    r.tokens_per_second === undefined ? "-" : r.tokens_per_second.toFixed(1),
    r.error_rate === undefined ? "-" : `${(r.error_rate * 100).toFixed(1)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return [line(header), ...body.map(line)];
}
