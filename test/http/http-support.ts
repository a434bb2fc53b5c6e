/**
 * Starts real rmxd instances with the "see it" routes on the gateway's listener (`--http 127.0.0.1:0`),
 * and a real Prometheus scraping them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { embeddedConfigText } from "../../config/embedded.js";
import { TOKEN_FILE } from "../../daemon/http/token.js";
import { type DaemonHandle, REPO, tempDir, until } from "../support/daemon-harness.js";
import { startGateway } from "./support.js";

export interface ObservedDaemon {
  daemon: DaemonHandle;
  /** http://127.0.0.1:PORT */
  url: string;
  token: string;
  /** The gateway's token file (a Prometheus scrape's credentials_file). */
  tokenPath: string;
  /** `http.metrics_auth` of this daemon. */
  metricsAuth: "token" | "none";
  /** A fresh one-time login URL from `dashboard.login`. */
  loginUrl(): Promise<string>;
}

/** The embedded default's stub runtime (`llama-stub`) behind the gateway, with the node id given. */
export async function startObservedDaemon(
  nodeId: string,
  opts: { metricsAuth?: "token" | "none"; env?: Record<string, string> } = {},
): Promise<ObservedDaemon> {
  const metricsAuth = opts.metricsAuth ?? "token";
  const g = await startGateway({
    config: `${embeddedConfigText}http: { metrics_auth: ${metricsAuth} }\n`,
    env: { RMX_NODE_ID: nodeId, ...opts.env },
    ready: ["llama-stub"],
  });
  const daemon = g.d;
  const loginUrl = async () => {
    const c = await daemon.client();
    try {
      return (await c.call("dashboard.login")).url;
    } finally {
      await c.close();
    }
  };
  const tokenPath = path.join(daemon.stateDir, TOKEN_FILE);
  return { daemon, url: `http://${g.listen}`, token: g.token, tokenPath, metricsAuth, loginUrl };
}

/**
 * A browser stand-in for `rmx dashboard --open` (`$BROWSER` or `--opener`): a script that appends each URL it
 * is asked to open to a file; `next()` waits for the next URL recorded.
 */
export async function recordingOpener(dir: string, name = "browser") {
  const script = path.join(dir, name);
  const file = path.join(dir, `${name}.urls`);
  await fs.writeFile(script, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${file}'\n`, { mode: 0o755 });
  const urls = async () =>
    (await fs.readFile(file, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
  let seen = 0;
  return {
    script,
    urls,
    /** The next URL the opener was handed (the opener runs detached: it may write after `rmx` exits). */
    async next(): Promise<string> {
      const all = await until(
        async () => {
          const u = await urls();
          return u.length > seen ? u : undefined;
        },
        10_000,
        `${name} to be handed a URL`,
      );
      return all[seen++] as string;
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export const PROMETHEUS = "/usr/bin/prometheus";
export const hasPrometheus = existsSync(PROMETHEUS);
export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

export interface PrometheusHandle {
  url: string;
  proc: ChildProcess;
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on a free loopback port, scraping each daemon every second: with its bearer token,
 * or without one where the daemon runs `http.metrics_auth: none`.
 */
export async function startPrometheus(targets: ObservedDaemon[]): Promise<PrometheusHandle> {
  const dir = await tempDir("rmx-prom-");
  const port = await freePort();
  const jobs = targets.map(
    (t, i) => `  - job_name: rmx-${i}
${t.metricsAuth === "token" ? `    authorization:\n      credentials_file: ${t.tokenPath}\n` : ""}    static_configs:
      - targets: ["${new URL(t.url).host}"]`,
  );
  const config = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${path.join(REPO, "packaging/prometheus/rmx-alerts.yml")}
scrape_configs:
${jobs.join("\n")}
`;
  await fs.writeFile(path.join(dir, "prometheus.yml"), config);
  let log = "";
  const proc = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
    log = (log + d).slice(-20_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  await until(
    async () => {
      if (proc.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      return (await fetch(`${url}/-/ready`)).ok;
    },
    30_000,
    "prometheus ready",
  );
  return {
    url,
    proc,
    async query(expr) {
      const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await r.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return body.data.result;
    },
    async stop() {
      proc.kill("SIGTERM");
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
