/**
 * Ours: `rmxd` from dist/ with a generated config, the `command` adapter running the bench child, and
 * the compiled client (`dist/ipc/client.js`) for round trips and readiness.
 */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchEnv, onCleanup, pidGone, spawnTracked, waitFor } from "../lib/procs.mjs";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
/**
 * The entries as installed (package.json's bin: the bundles), else the tsc output. BENCH_RMX_ENTRY=dist
 * measures the unbundled entries instead (for a before/after in one run).
 */
const BUNDLED = process.env.BENCH_RMX_ENTRY !== "dist";
const entry = (bundle, tsc) => {
  const b = path.join(REPO, bundle);
  return BUNDLED && fs.existsSync(b) ? b : path.join(REPO, tsc);
};
// BENCH_RMXD=FILE: another rmxd entry (a saved "before" build, for alternating before/after runs).
const RMXD = process.env.BENCH_RMXD
  ? path.resolve(process.env.BENCH_RMXD)
  : entry("dist/bin/rmxd.cjs", "dist/daemon/main.js");
/** BENCH_RMXD_FLAGS='--cpu-prof --cpu-prof-dir=DIR': Node flags for rmxd alone (profiles). */
// rmxd starts with the Node options and environment its service files pass (packaging/node-options.ts),
// then these flags.
const launcher = await import(pathToFileURL(path.join(REPO, "dist/packaging/node-options.js")).href);
const RMXD_FLAGS = [
  ...launcher.DAEMON_NODE_OPTIONS,
  ...(process.env.BENCH_RMXD_FLAGS ?? "").split(/\s+/).filter(Boolean),
];
// BENCH_RMX=FILE: another rmx entry (a saved "before" build's dist/bin/rmx.cjs), as BENCH_RMXD for rmxd.
const RMX = process.env.BENCH_RMX
  ? path.resolve(process.env.BENCH_RMX)
  : entry("dist/bin/rmx.cjs", "dist/ipc/cli/main.js");
export const entries = { rmxd: RMXD, rmx: RMX };
const CLIENT = path.join(REPO, "dist/ipc/client.js");

let clientModule;
async function RmxClient() {
  clientModule ??= await import(CLIENT);
  return clientModule.RmxClient;
}

export const name = "rmxd";

export function available() {
  return fs.existsSync(RMXD) && fs.existsSync(CLIENT)
    ? { ok: true }
    : { ok: false, note: "dist/ not built: run `npm run build` (npm run bench does)" };
}

/**
 * Restarts with no delay and a budget that never runs out, as issue 7 asks: backoff initial 0, jitter 0,
 * max_restarts the most the config allows (10,000 in a 1 s window: never reached), window 1 s. Health as shipped: /health every 5 s once ready.
 */
function runtimeEntry(program) {
  return {
    id: program.id,
    adapter: "command",
    binary: process.execPath,
    args: [program.script],
    env: program.env,
    auto_start: true,
    health: { path: "/health", interval: "5s", timeout: "2s" },
    restart_budget: { max_restarts: 10_000, window_seconds: 1, retry_at_reset: true },
    backoff: { initial: 0, max: 1, factor: 1, jitter: 0 },
    stop: { signal: "SIGTERM", grace: "5s" },
  };
}

/**
 * Starts rmxd supervising `programs` ({id, script, env}); resolves once its socket answers. `extraConfig`
 * is merged into the config's top level (e.g. the HTTP gateway's keys).
 */
export async function deploy({ dir, programs, extraConfig = {} }) {
  fs.mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, "rmxd.sock");
  const configPath = path.join(dir, "rmx.yaml");
  // JSON is YAML: no serializer needed.
  fs.writeFileSync(
    configPath,
    JSON.stringify({ ...extraConfig, runtimes: programs.map(runtimeEntry) }, null, 2),
  );
  const env = benchEnv({
    ...launcher.DAEMON_ENVIRONMENT,
    RMX_SOCKET: socket,
    RMX_STATE_DIR: path.join(dir, "state"),
    XDG_CONFIG_HOME: path.join(dir, "xdg-config"),
  });
  delete env.RMX_CONFIG;
  delete env.RMX_LOG_LEVEL;
  const daemon = spawnTracked(process.execPath, [...RMXD_FLAGS, RMXD, "--config", configPath], {
    env,
    logFile: path.join(dir, "rmxd.log"),
    // Its own process group: a Ctrl-C on the bench must not reach it before the bench's own teardown does.
    detached: true,
  });
  const teardown = onCleanup(`rmxd ${daemon.pid}`, async () => {
    if (daemon.alive()) daemon.child.kill("SIGTERM");
    if (!(await pidGone(daemon.pid, 20_000))) daemon.child.kill("SIGKILL");
    await daemon.exited;
  });
  const Client = await RmxClient();
  await waitFor(
    async () => {
      if (!daemon.alive()) throw new Error(`rmxd exited during start-up; see ${path.join(dir, "rmxd.log")}`);
      const c = await Client.connect({ socketPath: socket, timeoutMs: 1000 });
      try {
        return await c.call("daemon.hello");
      } finally {
        await c.close();
      }
    },
    30_000,
    "rmxd to answer",
  );
  return {
    daemonPid: daemon.pid,
    socket,
    statusCommand: {
      command: process.execPath,
      args: [RMX, "runtime", "status", "--json"],
      env: cliEnv(socket),
    },
    /** Runtimes `ready` in the status command's output. */
    listed: (r) =>
      r.code === 0 ? JSON.parse(r.stdout).runtimes.filter((x) => x.state === "ready").length : -1,
    /** Resolves with performance.now() when every runtime is `ready`, as seen over the socket. */
    allReady: (timeoutMs = 60_000 + programs.length * 1_000) =>
      allReady(Client, socket, programs.length, timeoutMs),
    async connect() {
      const c = await Client.connect({ socketPath: socket });
      return {
        list: () => c.call("runtime.status"),
        hello: () => c.call("daemon.hello"),
        raw: c,
        close: () => c.close(),
      };
    },
    teardown,
  };
}

function cliEnv(socket) {
  return benchEnv({ RMX_SOCKET: socket, NO_COLOR: "1" });
}

/**
 * Subscribe, then take a snapshot: the snapshot gives the runtimes no event has spoken of yet, and the
 * events everything after, so the daemon's current view comes without polling.
 */
async function allReady(Client, socket, total, timeoutMs) {
  const c = await Client.connect({ socketPath: socket });
  let timer;
  try {
    return await new Promise((resolve, reject) => {
      const states = new Map();
      const heard = new Set(); // runtimes an event has spoken of
      const trail = new Map(); // id → what was applied, in order: a stalled start says what it saw
      const note = (id, what) => trail.set(id, [...(trail.get(id) ?? []), what]);
      timer = setTimeout(async () => {
        const ready = [...states.values()].filter((s) => s === "ready").length;
        // Which ones, as the events left them and as a fresh status shows them: a bench that stalls says why.
        const fresh = await c.call("runtime.status").catch((e) => ({ runtimes: [], error: String(e) }));
        const behind = fresh.runtimes
          .filter((r) => r.state !== "ready" || states.get(r.id) !== "ready")
          .map(
            (r) =>
              `${r.id}: events ${states.get(r.id)} (${(trail.get(r.id) ?? []).join(" ")}), status ${r.state} ${JSON.stringify(r).slice(0, 300)}`,
          );
        reject(
          new Error(`only ${ready}/${total} runtimes ready after ${timeoutMs} ms\n${behind.join("\n")}`),
        );
      }, timeoutMs);
      const check = () => {
        let ready = 0;
        for (const s of states.values()) if (s === "ready") ready++;
        if (ready === total) resolve(performance.now());
      };
      c.subscribe(["runtime.state.changed"], (e) => {
        states.set(e.payload.id, e.payload.to);
        heard.add(e.payload.id);
        note(e.payload.id, `#${e.seq}:${e.payload.from}→${e.payload.to}@${e.time}`);
        check();
      })
        .then(() => c.call("runtime.status"))
        .then((status) => {
          // Every change after the subscription comes as an event, so an event is never older than the
          // snapshot's entry: the snapshot fills in only the runtimes no event has spoken of. (Applying it
          // over them could roll one back: the client resolves the answer's promise after the event lines
          // of the same read have been handed out, whatever their order on the wire.)
          for (const r of status.runtimes) {
            note(r.id, `snapshot:${r.state}@${status.generated}`);
            if (!heard.has(r.id)) states.set(r.id, r.state);
          }
          check();
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await c.close();
  }
}
