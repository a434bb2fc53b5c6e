/**
 * Footprint: the supervisor process's own RSS and CPU over a quiet period with a fleet of HTTP children
 * (ours probes each /health every 5 s; PM2 and supervisord have no HTTP probe). Children are not counted.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { usage } from "../lib/proc-usage.mjs";
import { onCleanup, pidGone, spawnTracked, waitFor } from "../lib/procs.mjs";
import { httpPrograms, listening, recordFile } from "../lib/records.mjs";

const SAMPLE_EVERY_MS = 1000;

/** Samples `pid` every second for `durationMs`: RSS samples (MiB) and mean CPU %. */
async function sample(name, pid, durationMs) {
  const first = await usage(pid);
  if (!first) throw new Error(`${name} (pid ${pid}) is gone`);
  const t0 = performance.now();
  const rss = [first.rssBytes];
  let last = first;
  while (performance.now() - t0 < durationMs) {
    await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
    const u = await usage(pid);
    if (!u) throw new Error(`${name} (pid ${pid}) died during the footprint run`);
    rss.push(u.rssBytes);
    last = u;
  }
  const wall = performance.now() - t0;
  return {
    rssMiB: rss.map((b) => b / 1024 / 1024),
    cpuPercent: ((last.cpuMs - first.cpuMs) / wall) * 100,
    seconds: wall / 1000,
  };
}

/** The floor: an idle Node process with the same environment, doing nothing at all. */
export async function measureIdleNode({ durationMs, log }) {
  log(`footprint: floor (idle node), ${Math.round(durationMs / 1000)} s`);
  const idle = spawnTracked(process.execPath, ["-e", "setInterval(() => {}, 60_000)"]);
  const stop = onCleanup(`idle node ${idle.pid}`, async () => {
    idle.child.kill("SIGKILL");
    await pidGone(idle.pid, 5_000);
  });
  try {
    await new Promise((r) => setTimeout(r, 500)); // past start-up
    return await sample("idle node", idle.pid, durationMs);
  } finally {
    await stop();
  }
}

export async function measureFootprint({ peers, runDir, size, durationMs, log }) {
  const results = {};
  for (const peer of peers) {
    log(`footprint: ${peer.name}, ${size} children, ${Math.round(durationMs / 1000)} s`);
    const dir = path.join(runDir, `footprint-${peer.name}`);
    const record = recordFile(dir, "listening.rec");
    const deployment = await peer.deploy({ dir, programs: httpPrograms(size, record) });
    try {
      await waitFor(
        () => listening(record).size >= size,
        60_000 + size * 1_000,
        `${size} children listening`,
      );
      if (deployment.allReady) await deployment.allReady();
      const first = await usage(deployment.daemonPid);
      if (!first) throw new Error(`${peer.name}'s daemon (pid ${deployment.daemonPid}) is gone`);
      const t0 = performance.now();
      const rss = [first.rssBytes];
      let last = first;
      while (performance.now() - t0 < durationMs) {
        await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
        const u = await usage(deployment.daemonPid);
        if (!u)
          throw new Error(
            `${peer.name}'s daemon (pid ${deployment.daemonPid}) died during the footprint run`,
          );
        rss.push(u.rssBytes);
        last = u;
      }
      const wall = performance.now() - t0;
      results[peer.name] = {
        rssMiB: rss.map((b) => b / 1024 / 1024),
        cpuPercent: ((last.cpuMs - first.cpuMs) / wall) * 100,
        seconds: wall / 1000,
      };
    } finally {
      await deployment.teardown();
    }
  }
  return results;
}
