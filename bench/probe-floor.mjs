#!/usr/bin/env node
/**
 * The floor under the daemon's quiet CPU (issue 16): one process that does nothing but what the quiet
 * period's probes must do, 50 HTTP children (children/http-child.mjs) each sent a keep-alive
 * GET /health every 5 s over node:net (10 a second, one per wake of one 100 ms timer, answers read
 * through `onread` into one buffer and not parsed). Prints its CPU % of a core over FLOOR_MS (30 s),
 * and, with FLOOR_NO_WRITE=1, the same process with the timer alone (no probes).
 *
 *   node bench/probe-floor.mjs                 # this Node
 *   $(bash scripts/node24.sh --find) bench/probe-floor.mjs
 *
 * Compare with `BENCH_LEAN_ONLY=quiet node bench/lean.mjs` in the same minutes (the machine's load
 * moves both).
 */
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const RUNTIMES = 50;
const INTERVAL_MS = 5000;
const MS = Number(process.env.FLOOR_MS ?? 30_000);
const WRITE = process.env.FLOOR_NO_WRITE !== "1";
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "children", "http-child.mjs");

const base = 20_000 + Math.floor(Math.random() * 400) * 100;
const targets = Array.from({ length: RUNTIMES }, (_, i) => ({ port: base + i, socket: undefined }));
const children = targets.map(({ port }) =>
  spawn(process.execPath, [CHILD], { env: { ...process.env, PORT: String(port) }, stdio: "ignore" }),
);
const stop = () => {
  for (const c of children) c.kill();
};
process.on("exit", stop);
await new Promise((r) => setTimeout(r, 3000));

const READ = Buffer.allocUnsafe(64 * 1024);
let answers = 0;
const requests = targets.map(({ port }) =>
  Buffer.from(
    `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\naccept: application/json\r\nConnection: keep-alive\r\n\r\n`,
    "latin1",
  ),
);
let next = 0;
setInterval(() => {
  const i = next;
  next = (next + 1) % targets.length;
  if (!WRITE) return;
  const t = targets[i];
  if (t.socket === undefined || t.socket.destroyed) {
    t.socket = net.connect({
      host: "127.0.0.1",
      port: t.port,
      noDelay: true,
      onread: {
        buffer: READ,
        callback: () => {
          answers++;
          return true;
        },
      },
    });
    t.socket.on("error", () => {});
  }
  t.socket.write(requests[i]);
}, INTERVAL_MS / RUNTIMES);

await new Promise((r) => setTimeout(r, 6000)); // every socket connected once: steady from here
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const a0 = answers;
await new Promise((r) => setTimeout(r, MS));
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
const pct = ((cpu.user + cpu.system) / 1000 / wall) * 100;
process.stdout.write(
  `${process.version} probe floor${WRITE ? "" : " (timer only)"}: ${pct.toFixed(3)} % of a core ` +
    `(user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms, ${answers - a0} answers in ${(wall / 1000).toFixed(0)} s)\n`,
);
process.exit(0);
