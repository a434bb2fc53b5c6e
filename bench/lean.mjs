#!/usr/bin/env node
/**
 * `npm run bench:lean`: the "lean and fast" ratios, each against a peer or a floor measured in the same
 * run, on every Node binary given (this one, and Node 24 when found: BENCH_NODE24, else the cache that
 * scripts/node24.sh fills). Writes bench/lean-results.md with a column per Node.
 *
 *   daemon RSS with N HTTP runtimes probed every 5 s  ÷ an idle Node process, ÷ PM2's daemon
 *   RSS growth over 10,000 runtime.status calls and 1,000 gateway requests (GET /v1/models with the
 *   token), after as many uncounted ones: the heap's working size
 *   daemon CPU (% of one core) over the quiet period
 *   (RSS and CPU are sampled after a settle period, for rmxd and PM2 alike: the steady state of a
 *   long-lived daemon, without start-up's one-off work — JIT compilation of the hot paths, and V8's
 *   memory reducer, which runs a few full collections some seconds after start and moves RSS by 5-8 MiB)
 *   cold `rmx runtime status --json` ÷ `node -e 0`, with and without NODE_EXTRA_CA_CERTS (interleaved runs)
 *   crash → new process born ÷ a bare spawn loop (PM2 too)
 *
 * Knobs: BENCH_SCALE (as bench/run.mjs), BENCH_RMX_ENTRY=dist (unbundled entries: the "before"),
 * BENCH_RMX_EXTRA='{"http":{…}}' (merged into rmxd's config; default {"http":{"listen":"127.0.0.1:0"}}: the
 * gateway on, as shipped, on a free port),
 * BENCH_RMXD=FILE (another rmxd entry: a saved before-build), BENCH_RMX=FILE (another rmx entry, e.g. a saved
 * build's dist/bin/rmx.cjs), BENCH_RMXD_FLAGS='--cpu-prof --cpu-prof-dir=DIR'
 * (Node flags for rmxd alone: profiles; the profile is written when rmxd exits on SIGTERM),
 * BENCH_LEAN_SETTLE_MS (the settle period before the quiet one; default 50 s at every scale;
 * 0 samples from the moment every runtime is ready), BENCH_LEAN_ONLY=quiet (the quiet period alone, printed:
 * profiling runs), BENCH_LEAN_ONLY=status (the cold status alone, with and without the CA file, against rmxd
 * with its runtimes ready, no settle period; printed: before/after runs of the CLI), BENCH_LEAN_KEEP=1 (keep the run directory: rmxd's log, with --trace-gc output),
 * BENCH_LEAN_OUT=FILE, BENCH_NODES=/path/node,/path/node (instead of this one + Node 24).
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { currentLoad } from "./lib/machine.mjs";
import { usage } from "./lib/proc-usage.mjs";
import {
  benchEnv,
  cleanupAll,
  installExitHandlers,
  onCleanup,
  pidGone,
  spawnTracked,
  timedRun,
  waitFor,
} from "./lib/procs.mjs";
import { httpPrograms, listening, recordFile } from "./lib/records.mjs";
import { count, duration, SCALE } from "./lib/scale.mjs";
import { median } from "./lib/stats.mjs";
import { measureRespawn } from "./measures/respawn.mjs";
import * as pm2 from "./peers/pm2.mjs";
import * as rmx from "./peers/rmx.mjs";

/** BENCH_LEAN_ONLY=quiet: the footprint's quiet period alone (profiling runs; prints, writes no table). */
const QUIET_ONLY = process.env.BENCH_LEAN_ONLY === "quiet";
/** BENCH_LEAN_ONLY=status: the cold status alone (CLI before/after runs; prints, writes no table). */
const STATUS_ONLY = process.env.BENCH_LEAN_ONLY === "status";
if (process.env.BENCH_LEAN_ONLY !== undefined && !QUIET_ONLY && !STATUS_ONLY)
  throw new Error(`BENCH_LEAN_ONLY must be quiet or status, got ${process.env.BENCH_LEAN_ONLY}`);
/** BENCH_LEAN_KEEP=1: the run directory stays (rmxd's log, e.g. with BENCH_RMXD_FLAGS=--trace-gc). */
const KEEP_RUN_DIR = process.env.BENCH_LEAN_KEEP === "1";
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const sizes = {
  runtimes: 50, // the issue's fleet, at every scale
  quietMs: duration(30_000, 5_000),
  settleMs:
    process.env.BENCH_LEAN_SETTLE_MS === undefined
      ? // Not scaled: V8's memory reducer shrinks the heap once after start-up, when allocation has
        // been low for a while. With less garbage per probe that comes later: 8-25 s after start
        // before, 24-41 s now (the trace-gc of 4 runs; RSS 64 MiB before it, 58 after, Node 20).
        50_000
      : Number(process.env.BENCH_LEAN_SETTLE_MS),
  statusRuns: count(20, 5),
  calls: 10_000,
  gatewayRequests: 1_000,
  crashes: count(100, 10),
};
const log = (m) =>
  process.stderr.write(`[lean ${process.version} ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const mib = (bytes) => bytes / 1024 / 1024;

if (!Number.isFinite(sizes.settleMs) || sizes.settleMs < 0)
  throw new Error(
    `BENCH_LEAN_SETTLE_MS must be a number of milliseconds ≥ 0, got ${process.env.BENCH_LEAN_SETTLE_MS}`,
  );

/** Waits out the settle period (see the header) before a footprint is sampled. */
function settle() {
  if (sizes.settleMs > 0) log(`settling for ${sizes.settleMs / 1000} s`);
  return new Promise((resolve) => setTimeout(resolve, sizes.settleMs));
}

/** Samples RSS (MiB) of every pid each second for `ms`; CPU % of the first. */
async function sampleQuiet(pids, ms) {
  const first = await Promise.all(pids.map(usage));
  const rss = pids.map((_, i) => [mib(first[i].rssBytes)]);
  const t0 = performance.now();
  let last = first;
  while (performance.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await Promise.all(pids.map(usage));
    for (const [i, u] of last.entries()) rss[i].push(mib(u.rssBytes));
  }
  const wall = performance.now() - t0;
  return { rss: rss.map(median), cpu: ((last[0].cpuMs - first[0].cpuMs) / wall) * 100 };
}

async function deployHttp(peer, runDir, extraConfig) {
  const dir = path.join(runDir, `lean-${peer.name}`);
  const record = recordFile(dir, "listening.rec");
  const d = await peer.deploy({ dir, programs: httpPrograms(sizes.runtimes, record), extraConfig });
  await waitFor(
    () => listening(record).size >= sizes.runtimes,
    120_000,
    `${sizes.runtimes} children listening`,
  );
  if (d.allReady) await d.allReady();
  return d;
}

/** Cold CLI status and `node -e 0`, interleaved so both see the same load; env with/without the CA file. */
async function coldStatus(d, withCa) {
  const strip = (env) => {
    const e = { ...env };
    if (!withCa) delete e.NODE_EXTRA_CA_CERTS;
    return e;
  };
  const { command, args, env } = d.statusCommand;
  const floorEnv = strip(benchEnv());
  await timedRun(command, args, { env: strip(env) });
  const cli = [];
  const floor = [];
  for (let i = 0; i < sizes.statusRuns; i++) {
    floor.push((await timedRun(process.execPath, ["-e", "0"], { env: floorEnv })).ms);
    const r = await timedRun(command, args, { env: strip(env) });
    if (r.code !== 0 || d.listed(r) !== sizes.runtimes)
      throw new Error(`status failed: ${r.stderr.slice(0, 300)}`);
    cli.push(r.ms);
  }
  return { cli: median(cli), floor: median(floor) };
}

/** GET /v1/models on the gateway `requests` times, one at a time over a keep-alive connection. */
async function gatewayRound(gateway, requests) {
  for (let i = 0; i < requests; i++) {
    const res = await fetch(`${gateway.base}/v1/models`, { headers: gateway.headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`gateway GET /v1/models answered ${res.status}`);
  }
}

async function growth(d) {
  const api = await d.connect();
  try {
    const http = await api.raw.call("http.token");
    if (!http.listen)
      throw new Error(`the gateway is off (${http.problem ?? "no address"}): see BENCH_RMX_EXTRA`);
    const gateway = {
      base: `http://${http.listen}`,
      headers: http.token ? { authorization: `Bearer ${http.token}` } : {},
    };
    const round = async () => {
      for (let i = 0; i < sizes.calls; i++) await api.list();
      await gatewayRound(gateway, sizes.gatewayRequests);
    };
    // As many calls again first: the heap grows to its working size then; a leak keeps growing after.
    await round();
    const before = mib((await usage(d.daemonPid)).rssBytes);
    await round();
    await new Promise((r) => setTimeout(r, 2000));
    const after = mib((await usage(d.daemonPid)).rssBytes);
    return { before, after, gatewayRequests: sizes.gatewayRequests };
  } finally {
    await api.close();
  }
}

async function one() {
  installExitHandlers();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-lean-"));
  for (const peer of [rmx, pm2]) {
    const a = peer.available();
    if (!a.ok) throw new Error(`${peer.name}: ${a.note}`);
  }
  pm2.init(runDir);
  const extraConfig = process.env.BENCH_RMX_EXTRA
    ? JSON.parse(process.env.BENCH_RMX_EXTRA)
    : { http: { listen: "127.0.0.1:0" } };
  const out = { node: process.version, entry: path.relative(path.join(BENCH_DIR, ".."), rmx.entries.rmxd) };
  try {
    if (STATUS_ONLY) {
      out.cli = path.relative(path.join(BENCH_DIR, ".."), rmx.entries.rmx);
      log(`cold status alone (${out.cli}), with and without NODE_EXTRA_CA_CERTS`);
      const d = await deployHttp(rmx, runDir, extraConfig);
      out.status = { ca: await coldStatus(d, true), noCa: await coldStatus(d, false) };
      await d.teardown();
      const ratio = (s) => `${r2(s.cli / s.floor)} (${r1(s.cli)} / ${r1(s.floor)} ms)`;
      log(`cold status ÷ node -e 0: CA ${ratio(out.status.ca)}, no CA ${ratio(out.status.noCa)}`);
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return 0;
    }
    if (!QUIET_ONLY) {
      log(`respawn: ${sizes.crashes} crashes (floor, rmxd, PM2)`);
      const rs = await measureRespawn({ peers: [rmx, pm2], runDir, crashes: sizes.crashes, log });
      out.born = { floor: median(rs.floor.born), rmxd: median(rs.rmxd.born), pm2: median(rs.PM2.born) };
    }

    const idle = spawnTracked(process.execPath, ["-e", "setInterval(() => {}, 60_000)"]);
    const stopIdle = onCleanup("idle node", async () => {
      idle.child.kill("SIGKILL");
      await pidGone(idle.pid, 5000);
    });
    log(`footprint: PM2, ${sizes.runtimes} children, ${sizes.quietMs / 1000} s`);
    let d;
    let pm2Quiet = { rss: [Number.NaN], cpu: Number.NaN };
    if (!QUIET_ONLY) {
      d = await deployHttp(pm2, runDir);
      await settle();
      pm2Quiet = await sampleQuiet([d.daemonPid], sizes.quietMs);
      await d.teardown();
    }
    log(`footprint: rmxd, ${sizes.runtimes} children, ${sizes.quietMs / 1000} s (idle node alongside)`);
    d = await deployHttp(rmx, runDir, extraConfig);
    await settle();
    const q = await sampleQuiet([d.daemonPid, idle.pid], sizes.quietMs);
    out.rss = { rmxd: q.rss[0], idle: q.rss[1], pm2: pm2Quiet.rss[0] };
    out.cpu = { rmxd: q.cpu, pm2: pm2Quiet.cpu };
    await stopIdle();
    if (QUIET_ONLY) {
      log(
        `quiet period only: rmxd CPU ${q.cpu.toFixed(2)} % of a core, RSS ${q.rss[0].toFixed(1)} MiB (idle node ${q.rss[1].toFixed(1)})`,
      );
      await d.teardown();
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return 0;
    }
    log("cold status, with and without NODE_EXTRA_CA_CERTS");
    out.status = { ca: await coldStatus(d, true), noCa: await coldStatus(d, false) };
    log(`growth over ${sizes.calls} runtime.status calls and ${sizes.gatewayRequests} gateway requests`);
    out.growth = await growth(d);
    await d.teardown();
  } finally {
    await cleanupAll();
    if (KEEP_RUN_DIR) log(`run directory kept: ${runDir} (rmxd's log: lean-rmxd/rmxd.log)`);
    else fs.rmSync(runDir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
}

function node24() {
  if (process.env.BENCH_NODE24) return process.env.BENCH_NODE24;
  try {
    return (
      execFileSync("bash", [path.join(BENCH_DIR, "..", "scripts", "node24.sh"), "--find"], {
        encoding: "utf8",
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function runOn(node) {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [fileURLToPath(import.meta.url), "--one"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (c) => (text += c));
    child.once("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(text.trim().split("\n").at(-1)))
        : reject(new Error(`${node} exited ${code}`)),
    );
  });
}

const r2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const r1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const ROWS = [
  [
    "daemon RSS ÷ idle node",
    (o) => o.rss.rmxd / o.rss.idle,
    1.3,
    (o) => `${r1(o.rss.rmxd)} / ${r1(o.rss.idle)} MiB`,
  ],
  ["daemon RSS ÷ PM2", (o) => o.rss.rmxd / o.rss.pm2, 0.9, (o) => `${r1(o.rss.rmxd)} / ${r1(o.rss.pm2)} MiB`],
  [
    "RSS growth over the status calls + gateway requests (MiB)",
    (o) => o.growth.after - o.growth.before,
    2,
    (o) => `${r1(o.growth.before)} → ${r1(o.growth.after)} MiB`,
  ],
  ["daemon CPU, % of a core", (o) => o.cpu.rmxd, 0.3, (o) => `PM2 ${r2(o.cpu.pm2)} %`],
  [
    "cold status ÷ node -e 0 (CA certs set)",
    (o) => o.status.ca.cli / o.status.ca.floor,
    1.3,
    (o) => `${r1(o.status.ca.cli)} / ${r1(o.status.ca.floor)} ms`,
  ],
  [
    "cold status ÷ node -e 0 (no CA certs)",
    (o) => o.status.noCa.cli / o.status.noCa.floor,
    1.3,
    (o) => `${r1(o.status.noCa.cli)} / ${r1(o.status.noCa.floor)} ms`,
  ],
  [
    "crash → born ÷ bare spawn",
    (o) => o.born.rmxd / o.born.floor,
    1.2,
    (o) => `${r1(o.born.rmxd)} / ${r1(o.born.floor)} ms (PM2 ${r2(o.born.pm2 / o.born.floor)}×)`,
  ],
];

function render(results, meta) {
  const head = `| measure | target | ${results.map((o) => `${o.node} (ratio; figures)`).join(" | ")} |`;
  const sep = `| --- | --- | ${results.map(() => "---").join(" | ")} |`;
  const rows = ROWS.map(([name, ratio, target, figures]) => {
    const cells = results.map((o) => {
      const v = ratio(o);
      return `${r2(v)} ${v <= target ? "✓" : "✗"}; ${figures(o)}`;
    });
    return `| ${name} | ≤ ${target} | ${cells.join(" | ")} |`;
  });
  return [
    "# Lean and fast: ratios (bench/lean.mjs)",
    "",
    `${meta.date}, BENCH_SCALE=${SCALE}: ${sizes.runtimes} HTTP runtimes probed every 5 s, ${sizes.quietMs / 1000} s quiet period after ${sizes.settleMs / 1000} s to settle, ` +
      `${sizes.statusRuns} cold status runs interleaved with \`node -e 0\`, ${sizes.calls} status calls + ${sizes.gatewayRequests} gateway requests, ${sizes.crashes} crashes. ` +
      `rmxd entries: ${results[0]?.entry ?? "?"}. ` +
      `Machine: ${os.cpus().length} cores, load ${meta.loadStart} at start, ${currentLoad()} at end. Medians; ` +
      "every ratio is against a floor or peer measured in the same run on the same Node.",
    "",
    head,
    sep,
    ...rows,
    "",
  ].join("\n");
}

async function main() {
  if (process.argv.includes("--one")) return one();
  const loadStart = currentLoad();
  const nodes = process.env.BENCH_NODES
    ? process.env.BENCH_NODES.split(",")
    : [process.execPath, node24()].filter(Boolean);
  const results = [];
  for (const node of nodes) results.push(await runOn(node));
  if (QUIET_ONLY || STATUS_ONLY) return 0; // each run logged its figures; no table from a part alone
  const md = render(results, { date: new Date().toISOString(), loadStart });
  fs.writeFileSync(process.env.BENCH_LEAN_OUT ?? path.join(BENCH_DIR, "lean-results.md"), md);
  process.stdout.write(md);
  return 0;
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    log(`failed: ${error.stack ?? error}`);
    await cleanupAll();
    process.exit(1);
  },
);
