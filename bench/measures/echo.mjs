/**
 * The round-trip floor: the same client library (dist/ipc/client.js) against a bare `net` server on the
 * same socket type. Plain echo: the echoed request carries its id, so the client resolves it like an
 * answer; what remains is framing, one socket write and one read each way, and no work. Canned: the
 * server answers with a copy of a real `runtime.status` result, so the same bytes travel and are parsed,
 * and only the daemon's own work is missing.
 */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { onCleanup, pidGone, spawnTracked, waitFor } from "../lib/procs.mjs";
import { ECHO_SERVER } from "../lib/records.mjs";

const CLIENT = fileURLToPath(new URL("../../dist/ipc/client.js", import.meta.url));

async function timeCalls(dir, name, args, calls) {
  const socket = path.join(dir, `${name}.sock`);
  const server = spawnTracked(process.execPath, [ECHO_SERVER, socket, ...args], {
    logFile: path.join(dir, `${name}.log`),
  });
  const stop = onCleanup(`${name} server ${server.pid}`, async () => {
    if (server.alive()) server.child.kill("SIGTERM");
    if (!(await pidGone(server.pid, 5_000))) server.child.kill("SIGKILL");
    await server.exited;
  });
  try {
    const { RmxClient } = await import(CLIENT);
    const client = await waitFor(
      () => RmxClient.connect({ socketPath: socket, timeoutMs: 500 }),
      10_000,
      `the ${name} server`,
    );
    try {
      for (let i = 0; i < Math.min(50, calls); i++) await client.call("runtime.status");
      const samples = [];
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await client.call("runtime.status");
        samples.push(performance.now() - t);
      }
      return samples;
    } finally {
      await client.close();
    }
  } finally {
    await stop();
  }
}

/** Returns { echo: [ms], canned?: [ms] }; `answer` is a real status result (JSON text) to serve canned. */
export async function measureEchoFloor({ runDir, calls, answer, log }) {
  const dir = path.join(runDir, "echo");
  fs.mkdirSync(dir, { recursive: true });
  log(`round trip: echo floor, ${calls} calls`);
  const out = { echo: await timeCalls(dir, "echo", [], calls) };
  if (answer !== undefined) {
    log(`round trip: canned status answer (${(answer.length / 1024).toFixed(1)} KiB), ${calls} calls`);
    const file = path.join(dir, "answer.json");
    fs.writeFileSync(file, answer);
    out.canned = await timeCalls(dir, "canned", [file], calls);
  }
  return out;
}
