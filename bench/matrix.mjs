#!/usr/bin/env node
/**
 * The matrix's costs on a real rmxd (issue 4): the sampling tick with many stub runtimes (its synchronous
 * compose time, the concurrent scrape, the tick's wall time, the event-loop delay per tick interval, the
 * daemon's CPU per tick), and `matrix.get` latency for a matrix of about a thousand cells (GGUF files in a
 * watched directory × cpu + two GPUs from a fake nvidia-smi × three sandbox kinds).
 *
 * Knobs (environment):
 *   BENCH_SCALE=1        full size: 50 runtimes, 1000 cells (default 0.1: 5 runtimes, 100 cells)
 *   BENCH_TICK_MS=1000   the daemon's sample interval during the bench
 *   BENCH_KEEP=1         keep the temporary directory (config, logs)
 * Needs `npm run build` first (it runs dist/). Prints a summary, then one JSON line.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { usage } from "./lib/proc-usage.mjs";
import { benchEnv, cleanupAll, installExitHandlers, onCleanup, spawnTracked, waitFor } from "./lib/procs.mjs";
import { summarize } from "./lib/stats.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DIST = path.join(REPO, "dist");

const rawScale = process.env.BENCH_SCALE ?? "0.1";
const SCALE = Number(rawScale);
if (!Number.isFinite(SCALE) || SCALE <= 0 || SCALE > 10) {
  throw new Error(`BENCH_SCALE must be a number in (0, 10], got ${JSON.stringify(rawScale)}`);
}
const TICK_MS = Number(process.env.BENCH_TICK_MS ?? "1000");
const RUNTIMES = Math.max(2, Math.round(50 * SCALE));
const TARGET_CELLS = Math.max(90, Math.round(1000 * SCALE));
/** cpu, gpu:0, gpu:1 × none, bwrap, systemd-run. */
const CELLS_PER_MODEL = 9;
const MODELS = Math.ceil(TARGET_CELLS / CELLS_PER_MODEL);
const GGUF_MODELS = Math.max(1, MODELS - RUNTIMES);
const MEASURED_TICKS = Math.max(5, Math.round(30 * SCALE));
const MATRIX_CALLS = Math.max(20, Math.round(200 * SCALE));

function log(message) {
  process.stderr.write(`[matrix bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const round = (n, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/** A fake nvidia-smi: two GPUs, fixed utilisation (the bench measures rmxd, not a driver). */
function writeFakeNvidiaSmi(dir) {
  const file = path.join(dir, "nvidia-smi");
  fs.writeFileSync(
    file,
    [
      "#!/bin/sh",
      'case "$1" in',
      "  *utilization.gpu*) printf '%s\\n' '0, 37, 1024, 24576, 61' '1, 5, 100, 12282, 40' ;;",
      "  *) printf '%s\\n' '0, NVIDIA GeForce RTX 3090, 24576, 00000000:01:00.0, 550.54.14' " +
        "'1, NVIDIA RTX A2000 12GB, 12282, 00000000:02:00.0, 550.54.14' ;;",
      "esac",
      "",
    ].join("\n"),
  );
  fs.chmodSync(file, 0o755);
}

function configText(modelsDir) {
  const runtimes = Array.from({ length: RUNTIMES }, (_, i) =>
    [
      `  - id: stub-${i}`,
      "    adapter: llama-stub",
      "    auto_start: true",
      "    slots: 2",
      `    hardware: ${i % 2 === 0 ? "cpu" : "gpu:0"}`,
      `    args: ["--alias", "stub-model-${i}"]`,
    ].join("\n"),
  );
  return [
    `telemetry: { sample_interval: ${TICK_MS}ms }`,
    `model_dirs: [${JSON.stringify(modelsDir)}]`,
    "runtimes:",
    ...runtimes,
    "",
  ].join("\n");
}

async function main() {
  installExitHandlers();
  if (os.platform() !== "linux")
    log("written for Linux (/proc, bwrap detection); figures elsewhere are partial");
  const { RmxClient } = await import(path.join(DIST, "ipc/client.js"));
  const { writeTinyGguf } = await import(path.join(DIST, "daemon/models/gguf-writer.js"));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-bench-matrix-"));
  onCleanup("matrix bench directory", async () => {
    if (process.env.BENCH_KEEP === "1") log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });
  const bin = path.join(dir, "bin");
  const modelsDir = path.join(dir, "models");
  fs.mkdirSync(bin);
  fs.mkdirSync(modelsDir);
  writeFakeNvidiaSmi(bin);
  for (let i = 0; i < GGUF_MODELS; i++) {
    await writeTinyGguf(path.join(modelsDir, `model-${String(i).padStart(4, "0")}.gguf`), {
      block_count: 32,
      embedding_length: 4096,
      head_count: 32,
      head_count_kv: 8,
      context_length: 8192,
      tensors: [{ name: "token_embd.weight", dims: [64, 16], type: 0 }],
    });
  }
  const configPath = path.join(dir, "rmx.yaml");
  fs.writeFileSync(configPath, configText(modelsDir));
  const socket = path.join(dir, "rmxd.sock");

  log(`${RUNTIMES} stub runtimes, ${GGUF_MODELS} GGUF files (~${TARGET_CELLS} cells), tick ${TICK_MS} ms`);
  const daemon = spawnTracked(process.execPath, [path.join(DIST, "daemon/main.js"), "--config", configPath], {
    env: benchEnv({
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
      RMX_SOCKET: socket,
      RMX_STATE_DIR: path.join(dir, "state"),
      RMX_LOG_LEVEL: "warn",
      XDG_CONFIG_HOME: path.join(dir, "xdg"),
    }),
    logFile: path.join(dir, "rmxd.log"),
  });
  onCleanup("rmxd", async () => {
    if (daemon.alive()) daemon.child.kill("SIGTERM");
    await daemon.exited;
  });

  const client = await waitFor(
    async () => (daemon.alive() ? RmxClient.connect({ socketPath: socket, timeoutMs: 500 }) : undefined),
    30_000,
    "rmxd to listen",
  );
  onCleanup("client", () => client.close());
  const startedAt = performance.now();
  await waitFor(
    async () => {
      const status = await client.call("runtime.status");
      return status.runtimes.every((r) => r.state === "ready");
    },
    Math.max(60_000, RUNTIMES * 3000),
    `${RUNTIMES} runtimes to be ready`,
  );
  log(`all ${RUNTIMES} runtimes ready after ${Math.round(performance.now() - startedAt)} ms`);

  // Let start-up settle: two ticks with every runtime scraped.
  await waitFor(
    async () => {
      const h = await client.call("hardware.get");
      return h.tick.scraped === RUNTIMES && h.tick.ticks >= 2 ? h : undefined;
    },
    TICK_MS * 20,
    "ticks scraping every runtime",
  );

  // ─── The tick ──────────────────────────────────────────────────────────────────────────────
  const perTick = [];
  let seen = (await client.call("hardware.get")).tick.ticks;
  const cpuBefore = await usage(daemon.pid);
  const firstTick = seen;
  while (perTick.length < MEASURED_TICKS) {
    await new Promise((r) => setTimeout(r, Math.max(50, TICK_MS / 4)));
    const h = await client.call("hardware.get");
    if (h.tick.ticks === seen) continue;
    seen = h.tick.ticks;
    perTick.push({
      compose: h.tick.last_compose_ms,
      scrape: h.tick.last_scrape_ms,
      wall: h.tick.last_tick_ms,
      scraped: h.tick.scraped,
      loopP99: h.tick.loop_delay_last_interval?.p99_ms ?? Number.NaN,
      loopMax: h.tick.loop_delay_last_interval?.max_ms ?? Number.NaN,
      sample: h.sample?.tick_ms ?? Number.NaN,
    });
  }
  const cpuAfter = await usage(daemon.pid);
  const ticksElapsed = seen - firstTick;
  const cpuPerTick = cpuBefore && cpuAfter ? (cpuAfter.cpuMs - cpuBefore.cpuMs) / ticksElapsed : Number.NaN;
  const pick = (key) => summarize(perTick.map((t) => t[key]).filter(Number.isFinite));

  // ─── matrix.get ────────────────────────────────────────────────────────────────────────────
  const latencies = [];
  let cells = 0;
  let bytes = 0;
  for (let i = 0; i < MATRIX_CALLS; i++) {
    const t0 = performance.now();
    const result = await client.call("matrix.get");
    latencies.push(performance.now() - t0);
    cells = result.cells.length;
    if (i === 0) bytes = Buffer.byteLength(JSON.stringify(result));
  }
  const matrix = summarize(latencies);
  const rss = cpuAfter?.rssBytes;

  const tick = {
    compose_ms: pick("compose"),
    scrape_ms: pick("scrape"),
    wall_ms: pick("wall"),
    sample_ms: pick("sample"),
    loop_delay_p99_ms: pick("loopP99"),
    loop_delay_max_ms: pick("loopMax"),
  };
  const line = (name, s) =>
    `  ${name.padEnd(26)} median ${round(s.median)}  p95 ${round(s.p95)}  max ${round(s.max)}  (n=${s.n})`;
  const out = [
    "",
    `Matrix bench (BENCH_SCALE=${SCALE}): ${RUNTIMES} stub runtimes, tick every ${TICK_MS} ms, ${cells} cells`,
    `Tick, over ${perTick.length} ticks (ms):`,
    line("compose + publish (sync)", tick.compose_ms),
    line("scrape, all runtimes", tick.scrape_ms),
    line("whole tick (wall)", tick.wall_ms),
    line("hardware sample", tick.sample_ms),
    line("loop delay p99 / interval", tick.loop_delay_p99_ms),
    line("loop delay max / interval", tick.loop_delay_max_ms),
    `  rmxd CPU per tick: ${round(cpuPerTick)} ms (everything rmxd did: health probes, tick, socket)`,
    `matrix.get, ${MATRIX_CALLS} sequential calls, ${cells} cells, ${Math.round(bytes / 1024)} KiB (ms):`,
    line("latency", matrix),
    `rmxd RSS: ${rss !== undefined ? `${Math.round(rss / 1024 / 1024)} MiB` : "n/a"}`,
    "",
  ];
  process.stdout.write(out.join("\n"));
  const json = {
    bench: "matrix",
    scale: SCALE,
    runtimes: RUNTIMES,
    tick_interval_ms: TICK_MS,
    ticks_measured: perTick.length,
    cells,
    matrix_get_bytes: bytes,
    tick,
    rmxd_cpu_ms_per_tick: round(cpuPerTick),
    matrix_get_ms: matrix,
    rmxd_rss_bytes: rss,
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
}

main()
  .then(
    () => cleanupAll(),
    async (error) => {
      process.stderr.write(`matrix bench failed: ${error.stack ?? error}\n`);
      await cleanupAll();
      process.exitCode = 1;
    },
  )
  .catch((error) => {
    process.stderr.write(`${error}\n`);
    process.exitCode = 1;
  });
