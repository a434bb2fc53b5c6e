// The upstream leg alone: rmxd's forward() over the lean client vs over node:http, and the floor proxy,
// each in a process of its own in front of one backend, requests interleaved; CPU per request of each
// proxy process (from /proc) and the latency it adds. No routing, auth or telemetry: only the leg.
//   npm run build && node bench/children/upstream-leg.mjs [N]
// LEG_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the two leg gateways.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { summarize } from "../lib/stats.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, "../../dist");
const N = Number(process.argv[2] ?? 3000);
const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
function start(args) {
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  children.push(proc);
  return new Promise((resolve) =>
    proc.stdout.once("data", (d) => resolve({ proc, port: Number(String(d).trim()) })),
  );
}
const legArgs = (process.env.LEG_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
const backend = await start([path.join(here, "leg-backend.mjs")]);
const subjects = [
  { name: "direct", port: backend.port },
  {
    name: "floor",
    ...(await start([path.join(here, "floor-proxy.mjs"), `http://127.0.0.1:${backend.port}`])),
  },
  {
    name: "lean",
    ...(await start([...legArgs, path.join(here, "leg-gateway.mjs"), dist, "lean", String(backend.port)])),
  },
  {
    name: "node",
    ...(await start([...legArgs, path.join(here, "leg-gateway.mjs"), dist, "node", String(backend.port)])),
  },
];
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(port, body) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/chat/completions",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let first;
        res.on("data", () => {
          first ??= performance.now() - t0;
        });
        res.on("end", () =>
          res.statusCode === 200
            ? resolve([performance.now() - t0, first])
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
const cpu = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(x[11]) + Number(x[12])) / 100;
};
const plain = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });
const streamed = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], stream: true });
for (const s of subjects) for (let i = 0; i < 300; i++) await post(s.port, plain);
const lat = {};
const ttfb = {};
const cpuUsed = {};
for (const s of subjects) {
  lat[s.name] = [];
  ttfb[s.name] = [];
  cpuUsed[s.name] = s.proc ? -cpu(s.proc.pid) : 0;
}
for (let i = 0; i < N; i++)
  for (const s of subjects) {
    lat[s.name].push((await post(s.port, plain))[0]);
    ttfb[s.name].push((await post(s.port, streamed))[1]);
  }
// 64 concurrent streams, rounds interleaved: the proxies' CPU per streamed answer under load.
const streamCpu = {};
for (const s of subjects) streamCpu[s.name] = 0;
for (let r = 0; r < 10; r++)
  for (const s of subjects) {
    const before = s.proc ? cpu(s.proc.pid) : 0;
    await Promise.all(Array.from({ length: 64 }, () => post(s.port, streamed)));
    streamCpu[s.name] += (s.proc ? cpu(s.proc.pid) : 0) - before;
  }
const out = {};
for (const s of subjects) {
  const row = {
    p50_ms: summarize(lat[s.name]).median,
    ttfb_p50_ms: summarize(ttfb[s.name]).median,
  };
  if (s.proc) {
    row.cpu_ms_per_request = ((cpuUsed[s.name] + cpu(s.proc.pid) - streamCpu[s.name]) * 1000) / (2 * N);
    row.cpu_ms_per_stream_64 = (streamCpu[s.name] * 1000) / 640;
  }
  out[s.name] = row;
}
for (const s of subjects.slice(1)) {
  out[s.name].p50_added_ms = out[s.name].p50_ms - out.direct.p50_ms;
  out[s.name].ttfb_added_ms = out[s.name].ttfb_p50_ms - out.direct.ttfb_p50_ms;
}
console.log(JSON.stringify(out, null, 1));
// A clean exit of the leg gateways, so their --cpu-prof profiles are written.
const exits = children.map((c) => new Promise((resolve) => c.once("exit", resolve)));
for (const c of children) c.kill("SIGTERM");
await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000))]);
process.exit(0);
