/**
 * Event fan-out (ours): N subscribers on their own connections, one runtime stopped and started again.
 * Latency per subscriber = arrival of the state change − the moment the request causing it was sent;
 * "all" = the same for the last subscriber of each change. Subscribers live in this one process, so
 * the figure includes a client reading N sockets in turn.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { httpPrograms, recordFile } from "../lib/records.mjs";

function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

export async function measureEvents({ peer, runDir, subscribers, trials, log }) {
  log(`events: ${subscribers} subscribers, ${trials} stop/start rounds`);
  const dir = path.join(runDir, "events");
  const record = recordFile(dir, "listening.rec");
  const programs = httpPrograms(1, record, "ev");
  const id = programs[0].id;
  const deployment = await peer.deploy({ dir, programs });
  const conns = [];
  try {
    await deployment.allReady(60_000);
    // One waiter per subscriber per expected transition: {to, resolve}.
    const waiting = Array.from({ length: subscribers }, () => []);
    for (let i = 0; i < subscribers; i++) {
      const c = await deployment.connect();
      conns.push(c);
      await c.raw.subscribe(["runtime.state.changed"], (e) => {
        if (e.payload.id !== id) return;
        const at = performance.now();
        for (const w of waiting[i].filter((w) => w.to === e.payload.to)) {
          waiting[i].splice(waiting[i].indexOf(w), 1);
          w.resolve(at);
        }
      });
    }
    const control = await deployment.connect();
    conns.push(control);
    const latencies = [];
    const all = [];
    const spread = [];
    const expect = (to) =>
      Promise.all(waiting.map((list) => new Promise((resolve) => list.push({ to, resolve }))));
    const round = async (method, to, settled) => {
      const arrivals = expect(to);
      const settledAt = expect(settled);
      const limit = deadline(30_000, `${method} to reach every subscriber`);
      const t0 = performance.now();
      await control.raw.call(method, { id });
      const times = await Promise.race([arrivals, limit.promise]);
      const lat = times.map((t) => t - t0);
      latencies.push(...lat);
      all.push(Math.max(...lat));
      spread.push(Math.max(...lat) - Math.min(...lat));
      await Promise.race([settledAt, limit.promise]);
      limit.cancel();
    };
    for (let t = 0; t < trials; t++) {
      await round("runtime.stop", "stopping", "stopped");
      await round("runtime.start", "starting", "ready");
    }
    return { latencies, all, spread };
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    await deployment.teardown();
  }
}
