/**
 * `/metrics` rendering cost for 50 runtimes (target ≤ 5 ms): DaemonMetrics.render over a synthetic
 * snapshot (50 runtimes, 50 cells with throughput, 50 backends' llama metrics, probe and request
 * histograms fed), against a floor measured in the same run: JSON.stringify of the same status
 * snapshot (what `runtime.status` serialises). Prints median and p95 in ms and the ratio to the floor.
 * Each round changes what a live daemon changes between scrapes (a few probes and requests, one runtime's
 * state), so cached text is not mistaken for free rendering.
 *   npm run build && node bench/metrics-render.mjs [RUNTIMES] [ROUNDS]
 * Knobs: BENCH_NO_PROCESS=1 leaves out the process metrics; BENCH_BEFORE=DIR also measures another build's
 * dist/ (e.g. a `git worktree` of the previous commit, built), rounds interleaved with this one's so both
 * see the same machine load, and prints both figures.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const RUNTIMES = Number(process.argv[2] ?? 50);
const ROUNDS = Number(process.argv[3] ?? 300);
const STATES = ["ready", "ready", "ready", "degraded", "backoff", "failed"];

function snapshot(n) {
  const now = Date.now();
  const runtimes = [];
  const cells = [];
  const backend = new Map();
  for (let i = 0; i < n; i++) {
    const id = `rt-${i}`;
    const model = `model-${i % 10}`;
    const hardware = i % 2 === 0 ? "cpu" : `gpu:${i % 4}`;
    runtimes.push({
      id,
      adapter: "llama.cpp",
      state: STATES[i % STATES.length],
      status: { code: "ready", severity: "info", severity_label: "Info", label: "Ready", aria_hint: "ready" },
      desired: "running",
      model,
      hardware,
      sandbox: "none",
      restarts_total: i % 3,
      restart_budget: {
        max_restarts: 5,
        window_seconds: 600,
        used: i % 5,
        remaining: 5 - (i % 5),
        ...(i % 5 > 0 ? { reset_at: new Date(now + 60_000).toISOString() } : {}),
      },
      health: { window_seconds: 60, requests: 10, errors: 0, error_rate: 0 },
    });
    cells.push({
      key: `${model}@${hardware}/none#${i}`,
      model,
      hardware,
      sandbox: "none",
      throughput: { generated_tokens_per_second: 20 + i },
    });
    backend.set(id, {
      prompt_tokens_total: 1000 * i,
      prompt_seconds_total: 12.5,
      tokens_predicted_total: 5000 * i,
      tokens_predicted_seconds_total: 40.1,
      n_decode_total: 800,
      n_busy_slots_per_decode: 1,
      prompt_tokens_seconds: 250,
      predicted_tokens_seconds: 30,
      kv_cache_usage_ratio: 0.2,
      kv_cache_tokens: 512,
      requests_processing: 1,
      requests_deferred: 0,
    });
  }
  const status = {
    generated: new Date(now).toISOString(),
    summary: { ready: 0, total: n, attention_required: false },
    runtimes,
    problems: [],
  };
  return { status, cells, backend };
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p95: at(0.95) };
}

const processMetrics = process.env.BENCH_NO_PROCESS !== "1";

async function load(dist) {
  const { DaemonMetrics } = await import(pathToFileURL(path.join(dist, "daemon/http/metrics.js")).href);
  const metrics = new DaemonMetrics("bench", { processMetrics });
  for (let i = 0; i < RUNTIMES; i++) {
    for (let k = 0; k < 20; k++) metrics.probe(`rt-${i}`, "health", 5 + k);
    for (let k = 0; k < 5; k++)
      metrics.record({
        model: `model-${i % 10}`,
        cell: `c${i}`,
        code: k === 0 ? "502" : "200",
        seconds: 0.2 * k,
        ttft_seconds: 0.05,
      });
    metrics.restart(`rt-${i}`, true);
  }
  return { metrics, snap: snapshot(RUNTIMES), render: [], bytes: 0 };
}

/** What changes between two scrapes of a busy daemon: 5 probes, 5 requests, one runtime's state. */
function churn(subject, round) {
  for (let k = 0; k < 5; k++) {
    const i = (round * 5 + k) % RUNTIMES;
    subject.metrics.probe(`rt-${i}`, "health", 5 + k);
    subject.metrics.record({
      model: `model-${i % 10}`,
      cell: `c${i}`,
      code: "200",
      seconds: 0.3,
      ttft_seconds: 0.04,
    });
  }
  const rt = subject.snap.status.runtimes[round % RUNTIMES];
  rt.state = rt.state === "ready" ? "degraded" : "ready";
}

const here = path.join(import.meta.dirname, "../dist");
const subjects = [{ name: "this build", ...(await load(here)) }];
if (process.env.BENCH_BEFORE)
  subjects.push({ name: `before (${process.env.BENCH_BEFORE})`, ...(await load(process.env.BENCH_BEFORE)) });
const floor = [];
for (let r = 0; r < ROUNDS + 20; r++) {
  for (const subject of r % 2 === 0 ? subjects : [...subjects].reverse()) {
    churn(subject, r);
    const t = performance.now();
    const text = await subject.metrics.render(subject.snap);
    const dt = performance.now() - t;
    if (r >= 20) {
      subject.render.push(dt);
      subject.bytes = text.length;
    }
  }
  const t = performance.now();
  JSON.stringify(subjects[0].snap.status);
  if (r >= 20) floor.push(performance.now() - t);
}
const f = stats(floor);
const figures = (subject) => {
  const a = stats(subject.render);
  return {
    build: subject.name,
    bytes: subject.bytes,
    render_ms: { median: +a.median.toFixed(3), p95: +a.p95.toFixed(3) },
    ratio_to_floor_median: +(a.median / f.median).toFixed(1),
    verdict: a.median <= 5 ? "within target (median ≤ 5 ms)" : "OVER the 5 ms target (median)",
  };
};
const out = {
  runtimes: RUNTIMES,
  rounds: ROUNDS,
  process_metrics: processMetrics,
  target_ms: 5,
  floor_json_status_ms: { median: +f.median.toFixed(3), p95: +f.p95.toFixed(3) },
  results: subjects.map(figures),
};
console.log(JSON.stringify(out, null, 2));
