import { spawn } from "node:child_process";
import net from "node:net";
import { mkdtempSync } from "node:fs";
const dir = mkdtempSync("/tmp/rmx-prof-"); const sock = dir + "/run/rmxd.sock";
const child = spawn(process.execPath, [...(process.env.PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : []), "test/faults/wire-server.mjs", sock, "{}"], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((r) => child.stdout.on("data", (d) => String(d).includes("ready") && r()));
const conns = await Promise.all(Array.from({ length: 10 }, () => new Promise((r) => { const s = net.connect(sock, () => r(s)); s.on("error", () => {}); })));
for (const s of conns) { s.pause(); s.write('{"jsonrpc":"2.0","id":1,"method":"test.notify","params":{"count":1025,"size":65536}}\n'); }
const c = net.connect(sock); c.setEncoding("utf8"); await new Promise((r) => c.on("connect", r));
for (let i = 0; i < 20; i++) { const t = performance.now(); c.write(`{"jsonrpc":"2.0","id":${i},"method":"daemon.hello"}\n`); await new Promise((r) => c.once("data", r)); console.log((performance.now() - t).toFixed(1)); }
await new Promise((r) => setTimeout(r, 1500));
child.kill("SIGTERM"); await new Promise((r) => child.on("exit", r));
for (const s of conns) s.destroy(); c.destroy();
