#!/usr/bin/env node
// The HTTP gateway's cost: added latency over calling the backend directly (non-stream p50/p99, stream
// time to first byte) and streaming throughput with 64 concurrent clients, against a floor (a minimal
// node:http proxy to the same backend), all in one run. Writes a "Gateway" section into bench/results.md.
//   npm run build && node bench/gateway.mjs     (BENCH_SCALE=0.1 for a quick look)
// BENCH_GW_CONCURRENCY=C (default 1): C clients in the latency phase at once, N requests in all.
// BENCH_BASELINE_DIST=DIR (a copy of an older build's dist/) adds a fourth subject in the same run: an
// rmxd from that build with a stub of its own, so a change is measured before/after under the same load
// (BENCH_BASELINE_NODE_ARGS: its node flags, e.g. the same --cpu-prof as BENCH_RMXD_NODE_ARGS).
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { summarize } from "./lib/stats.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = Math.max(50, Math.round(3000 * SCALE));
// Throughput rounds are short (well under a second each) and noisy on a shared machine: at least 6.
const ROUNDS = Math.max(6, Math.round(10 * SCALE));
const STREAMS = 64;
// Clients in the interleaved (latency) phase at once, each sending its requests one after another: 1
// measures a lone request's path; more shows how the added latency grows when requests queue in a proxy.
const CONCURRENCY = Math.max(1, Math.floor(Number(process.env.BENCH_GW_CONCURRENCY ?? 1)) || 1);
const STREAM_TOKENS = 200;

const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

// The stub logs each request like llama-server does, and rmxd captures every line, also of the requests
// that go to the backend directly or through the floor. BENCH_STUB_LOGS=0 turns the stub's log off, to see
// the gateway's own cost without that capture.
const stubLogs = process.env.BENCH_STUB_LOGS !== "0";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rmx-bench-gw-"));
fs.writeFileSync(
  path.join(dir, "rmx.yaml"),
  `runtimes:
  - id: bench
    adapter: llama-stub
    args: ["--alias", "bench", "--stub-tokens-per-second", "1000000"${stubLogs ? "" : ', "--log-disable"'}]
    slots: 64
    context: 262144
    auto_start: true
`,
);
// BENCH_RMXD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the daemon under this load.
const rmxdNodeArgs = (process.env.BENCH_RMXD_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
const baselineDist = process.env.BENCH_BASELINE_DIST;
// Every rmxd starts with the Node options and environment its service files pass (packaging/node-options.ts).
const { DAEMON_ENVIRONMENT, DAEMON_NODE_OPTIONS } = await import(
  pathToFileURL(path.join(REPO, "dist/packaging/node-options.js")).href
);

/** An rmxd from `dist` with its own state dir and socket; resolves once its stub is ready. */
async function startRmxd(dist, tag, nodeArgs) {
  const socket = path.join(dir, `rmxd-${tag}.sock`);
  const startedAt = performance.now();
  const proc = spawn(
    process.execPath,
    [
      ...DAEMON_NODE_OPTIONS,
      ...nodeArgs,
      path.join(dist, "daemon/main.js"),
      "--config",
      path.join(dir, "rmx.yaml"),
      "--http",
      "127.0.0.1:0",
    ],
    {
      env: {
        ...process.env,
        ...DAEMON_ENVIRONMENT,
        RMX_SOCKET: socket,
        RMX_STATE_DIR: path.join(dir, `state-${tag}`),
        RMX_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  children.push(proc);
  const { RmxClient } = await import(path.join(dist, "ipc/client.js"));
  let client;
  for (let i = 0; ; i++) {
    try {
      client = await RmxClient.connect({ socketPath: socket });
      break;
    } catch (error) {
      if (i > 200) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let endpoint;
  for (;;) {
    const status = await client.call("runtime.status");
    const rt = status.runtimes.find((r) => r.id === "bench");
    if (rt?.state === "ready") {
      endpoint = rt.endpoint;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const gw = await client.call("http.token");
  await client.close();
  return { proc, endpoint, gw, startedAt };
}
const main = await startRmxd(path.join(REPO, "dist"), "main", rmxdNodeArgs);
const rmxd = main.proc;
const { endpoint, gw } = main;
// BENCH_BASELINE_NODE_ARGS profiles the baseline daemon alike, so both profiles come from one run.
const baseNodeArgs = (process.env.BENCH_BASELINE_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
const base =
  baselineDist === undefined ? undefined : await startRmxd(path.resolve(baselineDist), "base", baseNodeArgs);

const floorNodeArgs = (process.env.BENCH_FLOOR_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
const floor = spawn(
  process.execPath,
  [...floorNodeArgs, path.join(REPO, "bench/children/floor-proxy.mjs"), endpoint],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
children.push(floor);
const floorPort = await new Promise((resolve) =>
  floor.stdout.once("data", (d) => resolve(Number(String(d).trim()))),
);

const direct = new URL(endpoint);
const subjects = [
  {
    name: "direct",
    label: "backend directly",
    host: direct.hostname,
    port: Number(direct.port),
    headers: {},
  },
  { name: "floor", label: "floor: minimal node:http proxy", host: "127.0.0.1", port: floorPort, headers: {} },
  {
    name: "rmxd",
    label: "rmxd gateway",
    host: gw.listen.slice(0, gw.listen.lastIndexOf(":")),
    port: Number(gw.listen.split(":").pop()),
    headers: { authorization: `Bearer ${gw.token}` },
    startedAt: main.startedAt,
  },
];
if (base !== undefined)
  subjects.push({
    name: "base",
    label: "rmxd gateway, baseline build",
    host: base.gw.listen.slice(0, base.gw.listen.lastIndexOf(":")),
    port: Number(base.gw.listen.split(":").pop()),
    headers: { authorization: `Bearer ${base.gw.token}` },
    startedAt: base.startedAt,
  });
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * Failed requests per subject, each sent again once. On a loaded machine a proxy's pooled socket can
 * lose the race with the backend's idle close (node's agent does not resend; the floor then resets its
 * client): counted and reported rather than ending the run.
 */
const failures = {};
async function post(s, body) {
  try {
    return await postOnce(s, body);
  } catch (error) {
    failures[s.name] = [...(failures[s.name] ?? []), error.message];
    return postOnce(s, body);
  }
}

/** One POST; resolves with [total ms, ms to first body byte, bytes]. */
function postOnce(s, body) {
  const payload = JSON.stringify(body);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: s.host,
        port: s.port,
        method: "POST",
        path: "/v1/chat/completions",
        agent,
        headers: {
          ...s.headers,
          host: `${s.host}:${s.port}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
      },
      (res) => {
        let first;
        let bytes = 0;
        res.on("data", (c) => {
          first ??= performance.now() - t0;
          bytes += c.length;
        });
        res.on("end", () =>
          res.statusCode === 200
            ? resolve([performance.now() - t0, first, bytes])
            : reject(new Error(`${s.name}: HTTP ${res.statusCode}`)),
        );
      },
    );
    // Named, so a failure says which subject failed.
    req.on("error", (error) => reject(new Error(`${s.name}: ${error.message}`, { cause: error })));
    req.end(payload);
  });
}

const plain = { model: "bench", messages: [{ role: "user", content: "hi" }], max_tokens: 1 };
const streamed = { ...plain, stream: true };
const lat = Object.fromEntries(subjects.map((s) => [s.name, []]));
const ttfb = Object.fromEntries(subjects.map((s) => [s.name, []]));
const tput = Object.fromEntries(subjects.map((s) => [s.name, []]));

/** CPU seconds (user + system) a process used so far, from /proc; undefined where there is none. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

// Warm-up: pools, JIT, the stub's slots. An rmxd turns V8's optimizing compilers on once it has been
// busy after a 5 s grace from its start (daemon/busy-switch.ts, RMX_V8_OPTIMIZERS=auto): the daemons
// get requests until WARM_DAEMON_MS after their start, so every measured request meets a warm one (its
// log says "busy: V8's JIT compilers on").
const WARM_DAEMON_MS = 8000;
for (const s of subjects) for (let i = 0; i < 200; i++) await post(s, plain);
for (const s of subjects.filter((x) => x.startedAt !== undefined))
  while (performance.now() - s.startedAt < WARM_DAEMON_MS) await post(s, plain);
// Interleaved, so drift (other load on the machine) hits every subject alike.
const pids = { floor: floor.pid, rmxd: rmxd.pid, ...(base === undefined ? {} : { base: base.proc.pid }) };
const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
// With a baseline, its stub gets as many requests as the main one (the direct and floor ones mirrored,
// unrecorded), so both daemons capture as many log lines and their CPU per request compares.
const baseStub =
  base === undefined
    ? undefined
    : {
        name: "base-direct",
        host: new URL(base.endpoint).hostname,
        port: Number(new URL(base.endpoint).port),
        headers: {},
      };
const baseDirect = { lat: [], ttfb: [] };
/** One client's share of the interleaved phase; BENCH_GW_CONCURRENCY of them run at once. */
async function interleaved(iterations) {
  for (let i = 0; i < iterations; i++) await interleavedRound();
}
async function interleavedRound() {
  for (const s of subjects) {
    lat[s.name].push((await post(s, plain))[0]);
    ttfb[s.name].push((await post(s, streamed))[1]);
    if (baseStub !== undefined && (s.name === "direct" || s.name === "floor")) {
      // The baseline's added latency is over its own stub: the mirror of the direct requests.
      const [total] = await post(baseStub, plain);
      const [, first] = await post(baseStub, streamed);
      if (s.name === "direct") {
        baseDirect.lat.push(total);
        baseDirect.ttfb.push(first);
      }
    }
  }
}
await Promise.all(
  Array.from({ length: CONCURRENCY }, (_, w) =>
    interleaved(Math.floor(N / CONCURRENCY) + (w < N % CONCURRENCY ? 1 : 0)),
  ),
);
// CPU per request of the proxy itself: less at the mercy of other load on the machine than latency is.
// rmxd's includes what it does besides proxying (probes, samplers, capturing the stub's log lines).
const cpuPerRequest = {};
for (const name of Object.keys(pids)) {
  const after = cpuSeconds(pids[name]);
  const before = cpuBefore[name];
  if (after !== undefined && before !== undefined) cpuPerRequest[name] = ((after - before) * 1000) / (2 * N);
}
for (let r = 0; r < ROUNDS; r++) {
  for (const s of subjects) {
    const t0 = performance.now();
    const all = await Promise.all(
      Array.from({ length: STREAMS }, () => post(s, { ...streamed, max_tokens: STREAM_TOKENS })),
    );
    const seconds = (performance.now() - t0) / 1000;
    tput[s.name].push((STREAMS * STREAM_TOKENS) / seconds);
    void all;
  }
}
// rmxd's exit is awaited: a --cpu-prof profile is written as it exits.
const procs = [rmxd, floor, ...(base === undefined ? [] : [base.proc])];
const exited = procs.map((c) => new Promise((resolve) => c.once("exit", resolve)));
for (const c of procs) c.kill("SIGTERM");
await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 10_000))]);

const fmt = (ms) => (ms < 1 ? `${Math.round(ms * 1000)} µs` : `${ms.toFixed(2)} ms`);
const st = (xs) => summarize(xs);
const rows = [];
const line = (measure, subject, xs, unit) => {
  const s = st(xs);
  const f = unit === "tok/s" ? (v) => `${Math.round(v)} tok/s` : fmt;
  rows.push(`| ${measure} | ${subject} | ${s.n} | ${f(s.median)} | ${f(s.p95)} | ${f(s.p99)} |`);
};
for (const s of subjects) line("Chat, non-stream (1 token): round trip", s.label, lat[s.name]);
for (const s of subjects) line("Chat, stream: time to first byte", s.label, ttfb[s.name]);
for (const s of subjects)
  line(
    `Streaming throughput, ${STREAMS} concurrent clients × ${STREAM_TOKENS} tokens`,
    s.label,
    tput[s.name],
    "tok/s",
  );
const added = (name, p) => st(lat[name])[p] - st(lat.direct)[p];
const addedTtfb = (name) => st(ttfb[name]).median - st(ttfb.direct).median;
const summary = {
  p50_added_ms: added("rmxd", "median"),
  p99_added_ms: added("rmxd", "p99"),
  floor_p50_added_ms: added("floor", "median"),
  floor_p99_added_ms: added("floor", "p99"),
  ttfb_added_ms: addedTtfb("rmxd"),
  floor_ttfb_added_ms: addedTtfb("floor"),
  cpu_ms_per_request: cpuPerRequest.rmxd,
  concurrency: CONCURRENCY,
  failures: Object.fromEntries(Object.entries(failures).map(([name, errors]) => [name, errors.length])),
  floor_cpu_ms_per_request: cpuPerRequest.floor,
};
if (base !== undefined) {
  summary.base_p50_added_ms = st(lat.base).median - st(baseDirect.lat).median;
  summary.base_p99_added_ms = st(lat.base).p99 - st(baseDirect.lat).p99;
  summary.base_ttfb_added_ms = st(ttfb.base).median - st(baseDirect.ttfb).median;
  summary.base_cpu_ms_per_request = cpuPerRequest.base;
  summary.base_stream_tok_s = st(tput.base).median;
}
const ratio = summary.p50_added_ms / summary.floor_p50_added_ms;
const ttfbRatio = summary.ttfb_added_ms / summary.floor_ttfb_added_ms;
summary.stream_tok_s = st(tput.rmxd).median;
summary.floor_stream_tok_s = st(tput.floor).median;
const tputRatio = summary.floor_stream_tok_s / summary.stream_tok_s;
const section = `<!-- gateway:start -->
## Gateway

Run ${new Date().toISOString()}; \`BENCH_SCALE=${SCALE}\`${stubLogs ? "" : ", `BENCH_STUB_LOGS=0`"}${CONCURRENCY === 1 ? "" : `, \`BENCH_GW_CONCURRENCY=${CONCURRENCY}\``}${base === undefined ? "" : ", `BENCH_BASELINE_DIST=…`"}; \`node bench/gateway.mjs\`. One llama stub (64 slots, unthrottled), reached three ways in
one run, requests interleaved: directly, through a floor proxy (node:http piping over a keep-alive pool:
bench/children/floor-proxy.mjs), and through rmxd's gateway (auth, Host guard, matrix routing, telemetry).

| Measure | Subject | n | median | p95 | p99 |
| --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

Added over the backend: rmxd p50 ${fmt(summary.p50_added_ms)}, p99 ${fmt(summary.p99_added_ms)}, time to first byte ${fmt(summary.ttfb_added_ms)};
floor p50 ${fmt(summary.floor_p50_added_ms)}, p99 ${fmt(summary.floor_p99_added_ms)}, time to first byte ${fmt(summary.floor_ttfb_added_ms)}.
${base === undefined ? "" : `Baseline build (\`BENCH_BASELINE_DIST\`, same run, over its own stub): p50 added ${fmt(summary.base_p50_added_ms)}, p99 ${fmt(summary.base_p99_added_ms)}, time to first byte ${fmt(summary.base_ttfb_added_ms)}, CPU per request ${summary.base_cpu_ms_per_request === undefined ? "n/a" : fmt(summary.base_cpu_ms_per_request)}, streaming ${Math.round(summary.base_stream_tok_s)} tok/s.\n`}${
  Object.keys(failures).length === 0
    ? ""
    : `Failed requests, sent again once: ${Object.entries(failures)
        .map(([name, errors]) => `${name} ${errors.length} (${[...new Set(errors)].join(", ")})`)
        .join("; ")}.\n`
}CPU per request (non-stream and stream, interleaved phase): rmxd ${summary.cpu_ms_per_request === undefined ? "n/a" : fmt(summary.cpu_ms_per_request)}, floor ${summary.floor_cpu_ms_per_request === undefined ? "n/a" : fmt(summary.floor_cpu_ms_per_request)}.
Targets: p50 added ≤ 0.3 ms: **${summary.p50_added_ms <= 0.3 ? "met" : "missed"}**; within 1.1× of the floor's overhead: **${ratio <= 1.1 ? "met" : "missed"}** (${ratio.toFixed(2)}×);
time to first byte within 1.1× of the floor's: **${ttfbRatio <= 1.1 ? "met" : "missed"}** (${ttfbRatio.toFixed(2)}×);
streaming throughput within 1.1× of the floor's: **${tputRatio <= 1.1 ? "met" : "missed"}** (floor ÷ rmxd ${tputRatio.toFixed(2)}×).
<!-- gateway:end -->
`;
const resultsFile = path.join(REPO, "bench/results.md");
const before = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, "utf8") : "";
const next = /<!-- gateway:start -->[\s\S]*<!-- gateway:end -->\n?/.test(before)
  ? before.replace(/<!-- gateway:start -->[\s\S]*<!-- gateway:end -->\n?/, section)
  : `${before.trimEnd()}\n\n${section}`;
fs.writeFileSync(resultsFile, next);
process.stdout.write(`${section}\n${JSON.stringify(summary)}\n`);
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
