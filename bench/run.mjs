#!/usr/bin/env node
/**
 * `npm run bench`: rmxd side by side with PM2 and supervisord on the same workloads (issue 7), then
 * bench/matrix.mjs when present. Prints the table and writes it to bench/results.md.
 *
 * Knobs (environment):
 *   BENCH_SCALE=0.1        scale every count and duration (default 1: the sizes)
 *   BENCH_ONLY=respawn,…   phases: respawn, small (status 20 + round trips), large (start-up + status 200),
 *                          footprint, events, matrix (bench/matrix.mjs, when present)
 *   BENCH_PEERS=rmxd,PM2   subset of rmxd, PM2, supervisord
 *   BENCH_OUT=FILE         where to write the markdown (default bench/results.md)
 *   BENCH_KEEP=1           keep the run's temporary directory (logs, configs, records)
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { currentLoad, describeMachine } from "./lib/machine.mjs";
import { releaseUsage } from "./lib/proc-usage.mjs";
import {
  atInterrupt,
  benchEnv,
  cleanupAll,
  installExitHandlers,
  interrupted,
  RUN_TAG,
  runInterruptHooks,
  taggedPids,
  waitFor,
} from "./lib/procs.mjs";
import { renderMarkdown } from "./lib/report.mjs";
import { count, duration, SCALE } from "./lib/scale.mjs";
import { measureEchoFloor } from "./measures/echo.mjs";
import { measureEvents } from "./measures/events.mjs";
import { measureLargeFleet, measureNodeFloor, measureSmallFleet } from "./measures/fleet.mjs";
import { measureFootprint, measureIdleNode } from "./measures/footprint.mjs";
import { measureRespawn } from "./measures/respawn.mjs";
import * as pm2 from "./peers/pm2.mjs";
import * as rmx from "./peers/rmx.mjs";
import * as supervisord from "./peers/supervisord.mjs";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const PHASES = ["respawn", "small", "large", "footprint", "events", "matrix"];

const sizes = {
  crashes: count(200, 10),
  small: count(20, 2),
  large: count(200, 10),
  statusRuns: count(30, 5),
  calls: count(1000, 50),
  startupRepeats: count(3, 1),
  footprintChildren: count(50, 5),
  footprintMs: duration(60_000, 5_000),
  subscribers: count(100, 10),
  eventRounds: count(20, 3),
};

function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function selected(envVar, all) {
  const raw = process.env[envVar];
  if (!raw) return all;
  const wanted = raw.split(",").map((s) => s.trim().toLowerCase());
  const unknown = wanted.filter((w) => !all.some((a) => a.toLowerCase() === w));
  if (unknown.length > 0)
    throw new Error(`${envVar}: unknown ${unknown.join(", ")} (known: ${all.join(", ")})`);
  return all.filter((a) => wanted.includes(a.toLowerCase()));
}

async function runMatrix() {
  const script = path.join(BENCH_DIR, "matrix.mjs");
  if (!fs.existsSync(script)) return undefined;
  log(`running bench/matrix.mjs with BENCH_SCALE=${SCALE}`);
  return new Promise((resolve) => {
    // The same scale as this run (matrix.mjs defaults to 0.1 on its own; npm run bench means full size).
    const child = spawn(process.execPath, [script], {
      env: benchEnv({ BENCH_SCALE: String(SCALE) }),
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("exit", (code, signal) => resolve(signal ?? code));
    child.once("error", (error) => resolve(error.message));
  });
}

async function main() {
  installExitHandlers();
  if (os.platform() === "win32") {
    log(
      "the bench needs Unix sockets, /proc and POSIX signals: Linux (macOS partly); nothing run on Windows",
    );
    return 2;
  }
  const phases = selected("BENCH_ONLY", PHASES);
  const allPeers = [rmx, pm2, supervisord];
  const peerNames = selected(
    "BENCH_PEERS",
    allPeers.map((p) => p.name),
  );
  const notes = [];
  const peers = [];
  for (const peer of allPeers.filter((p) => peerNames.includes(p.name))) {
    const a = peer.available();
    if (a.ok) peers.push(peer);
    else notes.push(`${peer.name} skipped: ${a.note}.`);
  }
  if (!peers.includes(rmx)) {
    throw new Error(`rmxd is not available: ${rmx.available().note ?? "not selected (BENCH_PEERS)"}`);
  }
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-bench-"));
  const removeRunDir = () => {
    if (process.env.BENCH_KEEP === "1") log(`kept ${runDir}`);
    else fs.rmSync(runDir, { recursive: true, force: true });
  };
  atInterrupt(removeRunDir);
  if (peers.includes(pm2)) pm2.init(runDir);
  log(
    `scale ${SCALE}, phases ${phases.join(", ")}, peers ${peers.map((p) => p.name).join(", ")}; run dir ${runDir}`,
  );

  const machine = describeMachine({ pm2Version: pm2.version(), supervisordVersion: supervisord.version() });
  const results = {};
  const failed = [];
  const phase = async (name, fn) => {
    if (!phases.includes(name) || interrupted()) return;
    try {
      await fn();
    } catch (error) {
      if (interrupted()) return;
      log(`phase ${name} failed: ${error.stack ?? error}`);
      failed.push(name);
      notes.push(`Phase **${name} failed**: ${String(error.message).split("\n")[0]}`);
      await cleanupAll();
    }
  };

  await phase("respawn", async () => {
    results.respawn = await measureRespawn({ peers, runDir, crashes: sizes.crashes, log });
  });
  await phase("small", async () => {
    const fleet = await measureSmallFleet({
      peers,
      runDir,
      size: sizes.small,
      statusRuns: sizes.statusRuns,
      calls: sizes.calls,
      log,
    });
    results.small = { size: sizes.small, ...fleet };
    results.nodeFloor = await measureNodeFloor({ runs: sizes.statusRuns, log });
    const floors = await measureEchoFloor({ runDir, calls: sizes.calls, answer: fleet.rmxd?.answer, log });
    results.echo = floors.echo;
    results.canned = floors.canned;
    for (const res of Object.values(fleet)) delete res.answer;
  });
  await phase("large", async () => {
    const fleet = await measureLargeFleet({
      peers,
      runDir,
      size: sizes.large,
      repeats: sizes.startupRepeats,
      statusRuns: sizes.statusRuns,
      log,
    });
    results.large = { size: sizes.large, ...fleet };
  });
  await phase("footprint", async () => {
    const fp = await measureFootprint({
      peers,
      runDir,
      size: sizes.footprintChildren,
      durationMs: sizes.footprintMs,
      log,
    });
    const seconds = Math.min(...Object.values(fp).map((x) => x.seconds));
    const floor = await measureIdleNode({ durationMs: sizes.footprintMs, log });
    results.footprint = { size: sizes.footprintChildren, seconds, floor, ...fp };
  });
  await phase("events", async () => {
    const ev = await measureEvents({
      peer: rmx,
      runDir,
      subscribers: sizes.subscribers,
      trials: sizes.eventRounds,
      log,
    });
    results.events = { subscribers: sizes.subscribers, ...ev };
  });

  // Every deployment has been torn down by now: anything still carrying the tag leaked.
  let leaked = [];
  try {
    await waitFor(() => taggedPids().length === 0, 10_000, "bench processes to exit");
  } catch {
    leaked = taggedPids();
  }
  await cleanupAll();
  releaseUsage();

  const matrix = phases.includes("matrix") && !interrupted() ? await runMatrix() : undefined;
  const matrixLeft = taggedPids();
  if (matrixLeft.length > 0) {
    await cleanupAll();
    notes.push(
      `bench/matrix.mjs left ${matrixLeft.length} process(es) running; killed: ${matrixLeft.join(", ")}.`,
    );
  }
  if (matrix !== undefined)
    notes.push(
      `bench/matrix.mjs ran after these measures (BENCH_SCALE=${SCALE}) and ended with ${matrix}; its figures are in its own output.`,
    );

  for (const fleet of [results.small, results.large]) {
    for (const [name, res] of Object.entries(fleet ?? {})) {
      if (res?.statusInvalid?.length > 0) {
        notes.push(
          `${name}'s status command gave ${res.statusInvalid.length} answer(s) not listing the whole fleet of ` +
            `${fleet.size} (not timed): ${res.statusInvalid[0]}`,
        );
      }
    }
  }
  notes.unshift(...methodNotes());
  notes.push(
    leaked.length === 0
      ? `No process of the run (tag ${RUN_TAG}) was left after the teardowns.`
      : `**${leaked.length} process(es) outlived their supervisor's teardown** and were killed: ${leaked.join(", ")}.`,
  );
  const markdown = renderMarkdown({
    results,
    machine,
    meta: { date: new Date().toISOString(), scale: SCALE, loadAtEnd: currentLoad(), notes },
  });
  const out = process.env.BENCH_OUT ?? path.join(BENCH_DIR, "results.md");
  fs.writeFileSync(out, markdown);
  process.stdout.write(`${markdown}\n`);
  log(`written to ${path.relative(process.cwd(), out) || out}`);
  removeRunDir();
  return failed.length > 0 || (matrix !== undefined && matrix !== 0) ? 1 : 0;
}

function methodNotes() {
  return [
    `Sizes at this scale: ${sizes.crashes} crashes; status with ${sizes.small} and ${sizes.large} children, ` +
      `${sizes.statusRuns} cold runs each (after one uncounted warm-up); ${sizes.calls} round trips (after 50 warm-up); ` +
      `start-up of ${sizes.large} children × ${sizes.startupRepeats}; footprint ${sizes.footprintChildren} children for ` +
      `${Math.round(sizes.footprintMs / 1000)} s; events ${sizes.subscribers} subscribers × ${sizes.eventRounds} stop/start rounds.`,
    "Every supervisor runs the same command line, `node bench/children/<child>.mjs`, with the same node binary and " +
      "environment. PM2 runs it as a binary (`interpreter: none`, fork mode), with `restart_delay: 0`, `min_uptime: 0`, " +
      "`max_restarts` huge and vizion off; supervisord with `startsecs=0`, `autorestart=true`, `startretries` huge " +
      "(its main loop wakes about once a second, which is where its ~1 s respawn comes from); " +
      "rmxd with the `command` adapter, backoff initial 0 / jitter 0, `max_restarts` huge, `window_seconds: 1`.",
    "Crash → respawn: the child appends `timeOrigin start exit` (epoch ms) and exits 1 at once; latency = next " +
      "life's start − previous life's exit, from the children's own records, so it is the same yardstick for every " +
      "peer. \"Born\" uses the next life's `performance.timeOrigin` instead (before Node's own start-up). The floor " +
      "is a plain loop spawning the child and waiting for its exit. rmxd's child dies during start-up (before any " +
      "health check passes); rmxd handles that exactly like a crash after ready: same backoff, same budget.",
    "Cold status: wall time from spawning the CLI to its output closed; the output is checked to list every child. " +
      "Round trip: sequential calls over one connection; the floor is the same client library against a bare " +
      "`net` server on a Unix socket echoing each line back (the echoed request resolves the call).",
    "Start-up: from the start command with no daemon running (rmxd spawned; `pm2 start apps.json`, which also " +
      'launches PM2\'s daemon; supervisord spawned) to the last child\'s own "listening" record. rmxd\'s "all ready" ' +
      "row waits until a subscribed client has seen every runtime `ready` (health probed from 10 ms, growing to 50 ms).",
    "Footprint: the supervisor process alone (rmxd; PM2's God daemon; supervisord), RSS sampled every second, " +
      "CPU = (utime + stime) delta ÷ wall time. rmxd health-probes each child every 5 s; PM2 and supervisord have " +
      "no HTTP health check.",
    "Events: subscribers on separate connections of this one process; latency = arrival − the moment the " +
      "`runtime.stop` / `runtime.start` request causing the change was sent (ready→stopping, stopped→starting).",
  ];
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    log(`failed: ${error.stack ?? error}`);
    await cleanupAll();
    runInterruptHooks();
    process.exit(1);
  },
);
