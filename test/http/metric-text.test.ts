/**
 * The cached text families write exactly what prom-client writes for the same observations (any label
 * values, any order of feeding and scraping), and DaemonMetrics' cached gauges follow every change of the
 * snapshot: a state or budget change, a runtime gone, a new backend sample. The whole text passes
 * `promtool check metrics` where promtool exists.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { LlamaMetrics } from "../../adapters/types.js";
import { CounterText, HistogramText } from "../../daemon/http/metric-text.js";
import { DaemonMetrics, type MetricsSnapshot } from "../../daemon/http/metrics.js";

const PROMTOOL = "/usr/bin/promtool";
const NAMES = ["runtime", "node", "code"] as const;
const BUCKETS = [0.005, 0.1, 1, 10];

const labelValue = fc.oneof(
  fc.constantFrom("", "a", "b", 'q"uote', "back\\slash", "new\nline", "ü"),
  fc.string({ maxLength: 6 }),
);
const labels = fc.record({ runtime: labelValue, node: labelValue, code: labelValue });
const step = fc.oneof(
  fc.record({
    kind: fc.constant("feed" as const),
    labels,
    value: fc.double({ min: 0, max: 50, noNaN: true }),
  }),
  fc.record({ kind: fc.constant("scrape" as const) }),
);

describe("cached text families", () => {
  it("match prom-client's text for the same feeding, scraped at any moment", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const registry = new Registry();
        const theirCounter = new Counter({
          name: "c_total",
          help: "h",
          labelNames: NAMES,
          registers: [registry],
        });
        const theirHistogram = new Histogram({
          name: "h_seconds",
          help: "h",
          labelNames: NAMES,
          buckets: BUCKETS,
          registers: [registry],
        });
        const counter = new CounterText("c_total", "h", NAMES);
        const histogram = new HistogramText("h_seconds", "h", NAMES, BUCKETS);
        const compare = async () => {
          expect(counter.text()).toBe(`${await registry.getSingleMetricAsString("c_total")}\n`);
          expect(histogram.text()).toBe(`${await registry.getSingleMetricAsString("h_seconds")}\n`);
        };
        for (const s of steps) {
          if (s.kind === "scrape") {
            await compare();
            continue;
          }
          theirCounter.inc(s.labels, s.value);
          counter.inc(s.labels, s.value);
          theirHistogram.observe(s.labels, s.value);
          histogram.observe(s.labels, s.value);
        }
        await compare();
      }),
      { numRuns: 200 },
    );
  });
});

function runtime(id: string, state: "ready" | "backoff", remaining: number, resetAt?: string) {
  return {
    id,
    state,
    model: "m",
    hardware: "cpu",
    sandbox: "none",
    restart_budget: { max_restarts: 3, remaining, ...(resetAt !== undefined ? { reset_at: resetAt } : {}) },
  };
}

function snapshot(runtimes: ReturnType<typeof runtime>[], backend = new Map<string, LlamaMetrics>()) {
  return {
    status: { runtimes },
    cells: [
      {
        key: "m@cpu/none",
        model: "m",
        hardware: "cpu",
        sandbox: "none",
        throughput: { generated_tokens_per_second: 7 },
      },
    ],
    backend,
  } as unknown as MetricsSnapshot;
}

describe("DaemonMetrics' cached gauges", () => {
  it("follow state, budget, removal and new backend samples; the text passes promtool", async () => {
    const metrics = new DaemonMetrics("n1");
    const sample = { tokens_predicted_total: 5, kv_cache_usage_ratio: 0.5 } as unknown as LlamaMetrics;
    const first = await metrics.render(
      snapshot([runtime("a", "ready", 3), runtime("b", "ready", 3)], new Map([["a", sample]])),
    );
    expect(first).toMatch(
      /^rmx_runtime_ready\{runtime="b",model="m",hardware="cpu",sandbox="none",node="n1"\} 1$/m,
    );
    expect(first).toMatch(/^llamacpp_tokens_predicted_total\{runtime="a",node="n1"\} 5$/m);
    expect(first).not.toContain("rmx_restart_budget_reset_timestamp_seconds{");

    metrics.restart("b", true);
    const second = await metrics.render(
      snapshot(
        [runtime("b", "backoff", 2, "2026-01-01T00:00:10.000Z")],
        new Map([["a", { ...sample, tokens_predicted_total: 9 } as LlamaMetrics]]),
      ),
    );
    expect(second).not.toMatch(/runtime="a",model/);
    expect(second).toMatch(/^rmx_runtime_ready\{runtime="b",[^}]*\} 0$/m);
    expect(second).toMatch(/^rmx_runtime_state\{runtime="b",[^}]*,state="backoff"\} 1$/m);
    expect(second).toMatch(/^rmx_runtime_state\{runtime="b",[^}]*,state="ready"\} 0$/m);
    expect(second).toMatch(/^rmx_restart_budget_remaining\{runtime="b",[^}]*\} 2$/m);
    expect(second).toMatch(/^rmx_restart_budget_reset_timestamp_seconds\{runtime="b",[^}]*\} 1767225610$/m);
    expect(second).toMatch(/^rmx_restarts_total\{runtime="b",model="m",[^}]*,reason="automatic"\} 1$/m);
    expect(second).toMatch(/^llamacpp_tokens_predicted_total\{runtime="a",node="n1"\} 9$/m);
    expect(second).toMatch(/^rmxd_process_resident_memory_bytes \d+$/m);
    expect(second).toMatch(/^rmxd_nodejs_heap_used_bytes \d+$/m);

    if (existsSync(PROMTOOL)) {
      const check = spawnSync(PROMTOOL, ["check", "metrics"], { input: second, encoding: "utf8" });
      expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    }
  });
});

// The render cost is measured in bench/metrics-render.mjs (ratios, same run), never asserted here: this only
// holds the cached text to every change across many scrapes.
describe("/metrics cached text under churn", () => {
  it("50 runtimes: each scrape after a state flip, a probe and a request shows the new state", async () => {
    const metrics = new DaemonMetrics("n1");
    const runtimes = Array.from({ length: 50 }, (_, i) => runtime(`rt-${i}`, "ready", 3));
    const backend = new Map<string, LlamaMetrics>();
    for (let i = 0; i < 50; i++) {
      backend.set(`rt-${i}`, {
        tokens_predicted_total: i,
        kv_cache_usage_ratio: 0.1,
      } as unknown as LlamaMetrics);
      for (let k = 0; k < 20; k++) metrics.probe(`rt-${i}`, "health", k);
      metrics.record({ model: "m", cell: `c${i}`, code: "200", seconds: 0.2, ttft_seconds: 0.05 });
    }
    for (let r = 0; r < 120; r++) {
      const rt = runtimes[r % 50] as ReturnType<typeof runtime>;
      rt.state = rt.state === "ready" ? "backoff" : "ready";
      metrics.probe(rt.id, "health", r % 30);
      metrics.record({ model: "m", cell: `c${r % 50}`, code: "200", seconds: 0.1 });
      const text = await metrics.render(snapshot(runtimes, backend));
      const line = text
        .split("\n")
        .find(
          (l) => l.startsWith("rmx_runtime_state{") && l.includes(`runtime="${rt.id}"`) && l.endsWith(" 1"),
        );
      expect(line, `scrape ${r}: ${rt.id}`).toContain(`state="${rt.state}"`);
    }
  });
});

describe("DaemonMetrics' probe series", () => {
  it("runtimes' probes taking turns each count in their own series; a new placement's labels apply from then on", async () => {
    const metrics = new DaemonMetrics("n1", { processMetrics: false });
    const runtimes = ["a", "b", "c"].map((id) => runtime(id, "ready", 3));
    await metrics.render(snapshot(runtimes));
    for (let k = 0; k < 30; k++) {
      metrics.probe(["a", "b", "c"][k % 3] as string, k % 2 === 0 ? "health" : "inference", 1);
    }
    const count = (text: string, id: string, model: string, probe: string) =>
      new RegExp(
        `^rmx_probe_duration_seconds_count\\{runtime="${id}",model="${model}",hardware="cpu",sandbox="none",node="n1",probe="${probe}"\\} (\\d+)$`,
        "m",
      ).exec(text)?.[1];
    const first = await metrics.render(snapshot(runtimes));
    for (const id of ["a", "b", "c"]) {
      expect(count(first, id, "m", "health"), id).toBe("5");
      expect(count(first, id, "m", "inference"), id).toBe("5");
    }
    // b now serves another model: the gauges say so at this render, and its probes from now on too.
    (runtimes[1] as { model: string }).model = "m2";
    await metrics.render(snapshot(runtimes));
    metrics.probe("b", "health", 2);
    metrics.probe("a", "health", 2);
    const second = await metrics.render(snapshot(runtimes));
    expect(count(second, "b", "m2", "health")).toBe("1");
    expect(count(second, "b", "m", "health"), "the old series keeps its count").toBe("5");
    expect(count(second, "a", "m", "health")).toBe("6");
  });
});
