/**
 * A real Prometheus scrapes two real rmxd (node ids a and b) on their gateways' listeners — a under
 * `http.metrics_auth: none`, b with its bearer token: the restart headroom falls when a backend is killed,
 * and `rmx fleet` against that Prometheus lists both nodes.
 */
import { afterAll, describe, expect, it } from "vitest";
import { runCli, stopAll, until } from "../support/daemon-harness.js";
import {
  hasPrometheus,
  type ObservedDaemon,
  PROMETHEUS,
  type PrometheusHandle,
  startObservedDaemon,
  startPrometheus,
} from "./http-support.js";

let prometheus: PrometheusHandle | undefined;
afterAll(async () => {
  await prometheus?.stop();
  await stopAll();
});

if (!hasPrometheus)
  console.warn(`skipping the fleet test: ${PROMETHEUS} is absent (apt-get install prometheus)`);

describe.skipIf(!hasPrometheus)("fleet on a real Prometheus", () => {
  it("sees the headroom fall after a kill, and rmx fleet lists both nodes", {
    timeout: 120_000,
  }, async () => {
    const nodes: ObservedDaemon[] = await Promise.all([
      startObservedDaemon("a", { metricsAuth: "none" }),
      startObservedDaemon("b", { metricsAuth: "token" }),
    ]);
    prometheus = await startPrometheus(nodes);
    const prom = prometheus;
    const remaining = async (node: string) => {
      const r = await prom.query(`rmx_restart_budget_remaining{node="${node}",runtime="llama-stub"}`);
      return r[0] === undefined ? undefined : Number(r[0].value[1]);
    };
    const before = await until(async () => remaining("a"), 30_000, "node a scraped");
    await until(async () => (await remaining("b")) !== undefined, 30_000, "node b scraped");

    const a = nodes[0] as ObservedDaemon;
    const rt = (await a.daemon.status()).runtimes.find((r) => r.id === "llama-stub");
    expect(rt?.pid).toBeDefined();
    const restarted = a.daemon.nextEvent("runtime.restart", (p: { id: string }) => p.id === "llama-stub");
    process.kill(rt?.pid as number, "SIGKILL");
    await restarted;
    const after = await until(
      async () => {
        const v = await remaining("a");
        return v !== undefined && v < before ? v : undefined;
      },
      30_000,
      "rmx_restart_budget_remaining of node a to fall",
    );
    expect(after).toBe(before - 1);
    await until(
      async () => (await prom.query('rmx_restarts_total{node="a",reason="automatic"}')).length > 0,
      30_000,
      "the restart counted",
    );

    const json = await runCli(["fleet", "--prometheus", prom.url, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const fleet = JSON.parse(json.stdout) as {
      nodes: string[];
      rows: { node: string; runtime: string; state: string; restarts_left?: number }[];
    };
    expect(fleet.nodes).toEqual(["a", "b"]);
    expect(fleet.rows.find((r) => r.node === "a")?.restarts_left).toBe(after);
    const text = await runCli(["fleet", "--prometheus", prom.url]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^NODE\s+RUNTIME/m);
    expect(text.stdout).toMatch(/^a\s+llama-stub/m);
    expect(text.stdout).toMatch(/^b\s+llama-stub/m);

    // The alert rules load and evaluate against these series.
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual([
      "RmxRestartBudgetExhausted",
      "RmxRestartStorm",
      "RmxRuntimeDegraded",
      "RmxTargetDown",
    ]);
  });

  it("rmx fleet names the URL when Prometheus is unreachable", async () => {
    const r = await runCli(["fleet", "--prometheus", "http://127.0.0.1:9/"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/PROMETHEUS_QUERY_FAILED|cannot reach Prometheus at http:\/\/127\.0\.0\.1:9\//);
  });
});
