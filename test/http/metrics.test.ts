/**
 * /metrics of a real rmxd on the gateway's listener: bearer auth, the families and labels the alert rules and `rmx fleet` use,
 * the backend's llama metrics re-exported with a runtime label, and `promtool check metrics` clean.
 * The packaged alert rules pass `promtool check rules`; the Grafana dashboard names only real families.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, startDaemon, stopAll, until } from "../support/daemon-harness.js";
import { startObservedDaemon } from "./http-support.js";

const PROMTOOL = "/usr/bin/promtool";
const hasPromtool = existsSync(PROMTOOL);
if (!hasPromtool) console.warn(`promtool checks skipped: ${PROMTOOL} is absent (apt-get install prometheus)`);

afterAll(stopAll);

const FAMILIES = [
  "rmx_runtime_state",
  "rmx_runtime_ready",
  "rmx_restart_budget_remaining",
  "rmx_restart_budget_max",
  "rmx_restart_budget_reset_timestamp_seconds",
  "rmx_restarts_total",
  "rmx_probe_duration_seconds",
  "rmx_requests_total",
  "rmx_request_duration_seconds",
  "rmx_time_to_first_token_seconds",
  "rmx_cell_tokens_per_second",
];

describe("/metrics of a real rmxd", () => {
  it("needs the bearer token, and exposes state, budgets, probes, requests and the backend's metrics", {
    timeout: 60_000,
  }, async () => {
    const node = await startObservedDaemon("m1");
    expect((await fetch(`${node.url}/metrics`)).status).toBe(401);
    const auth = { headers: { authorization: `Bearer ${node.token}` } };
    // A routed request feeds the request metrics; the matrix's next tick scrapes the stub's /metrics.
    const chat = await node.daemon.cli(["chat", "--model", "stub-model", "hello"]);
    expect(chat.code, chat.stderr).toBe(0);
    const text = await until(
      async () => {
        const t = await (await fetch(`${node.url}/metrics`, auth)).text();
        return t.includes("llamacpp_tokens_predicted_total{") && t.includes("rmx_requests_total{")
          ? t
          : undefined;
      },
      30_000,
      "the backend's metrics and the routed request in /metrics",
    );
    for (const family of FAMILIES) {
      if (
        family === "rmx_restart_budget_reset_timestamp_seconds" ||
        family === "rmx_restarts_total" ||
        family === "rmx_time_to_first_token_seconds" ||
        family === "rmx_cell_tokens_per_second"
      )
        expect(text).toContain(`# TYPE ${family} `);
      else expect(text, family).toMatch(new RegExp(`^${family}(_bucket)?\\{`, "m"));
    }
    expect(text).toMatch(
      /^rmx_runtime_state\{runtime="llama-stub",model="[^"]*",hardware="cpu",sandbox="none",node="m1",state="ready"\} 1$/m,
    );
    expect(text).toMatch(/^rmx_restart_budget_remaining\{runtime="llama-stub",.*node="m1"\} 3$/m);
    expect(text).toMatch(
      /^rmx_requests_total\{model="stub-model",cell="stub-model@cpu\/none",node="m1",code="200"\} 1$/m,
    );
    expect(text).toMatch(/^llamacpp_tokens_predicted_total\{runtime="llama-stub",node="m1"\} \d+/m);
    expect(text).toMatch(/^rmxd_process_resident_memory_bytes /m);
    if (hasPromtool) {
      const check = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    }
  });
});

describe("rmx dashboard without a listener", () => {
  it("says DASHBOARD_UNAVAILABLE and how to start one", { timeout: 60_000 }, async () => {
    const daemon = await startDaemon({});
    const r = await daemon.cli(["dashboard", "--json"]);
    expect(r.code).toBe(1);
    const error = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    expect(error.error.code).toBe("DASHBOARD_UNAVAILABLE");
    expect(error.error.message).toMatch(/the gateway is off .*--http HOST:PORT/);
  });
});

describe("packaging: alert rules and the Grafana dashboard", () => {
  it.skipIf(!hasPromtool)("promtool check rules passes", () => {
    const out = execFileSync(
      PROMTOOL,
      ["check", "rules", path.join(REPO, "packaging/prometheus/rmx-alerts.yml")],
      {
        encoding: "utf8",
      },
    );
    expect(out).toMatch(/SUCCESS: 4 rules found/);
  });

  it("the Grafana dashboard is JSON whose queries name only families rmxd exports", () => {
    const dashboard = JSON.parse(
      readFileSync(path.join(REPO, "packaging/grafana/rmx-dashboard.json"), "utf8"),
    ) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const panel of dashboard.panels)
      for (const target of panel.targets)
        for (const name of target.expr.match(/\brmx_[a-z_]+/g) ?? [])
          expect(
            FAMILIES.some((f) => name === f || name === `${f}_bucket`),
            `${panel.title}: ${name}`,
          ).toBe(true);
    const rules = readFileSync(path.join(REPO, "packaging/prometheus/rmx-alerts.yml"), "utf8");
    for (const name of rules.match(/\brmx_[a-z_]+/g) ?? []) expect(FAMILIES, name).toContain(name);
  });
});
