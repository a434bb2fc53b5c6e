/**
 * Crash to respawn: one child that exits at once, restarted with no configured delay. Each life records
 * its own start and exit; respawn latency = next start − previous exit, identical for every peer and for
 * the floor (a plain loop spawning the same child with nothing around it).
 */
import path from "node:path";
import { benchEnv, spawnTracked, waitFor } from "../lib/procs.mjs";
import { CRASH_CHILD, crashLives, recordCount, recordFile } from "../lib/records.mjs";

/** Latencies from lives: `start` gap (child running its code) and `origin` gap (process born). */
function gaps(lives, crashes) {
  const running = [];
  const born = [];
  for (let i = 1; i <= crashes && i < lives.length; i++) {
    running.push(lives[i].start - lives[i - 1].exit);
    born.push(lives[i].origin - lives[i - 1].exit);
  }
  return { running, born };
}

async function floor(dir, crashes) {
  const record = recordFile(dir, "crash.rec");
  const env = benchEnv({ BENCH_RECORD: record });
  for (let i = 0; i <= crashes; i++) {
    const child = spawnTracked(process.execPath, [CRASH_CHILD], { env });
    await child.exited;
  }
  return gaps(crashLives(record), crashes);
}

async function underPeer(peer, dir, crashes) {
  const record = recordFile(dir, "crash.rec");
  const programs = [{ id: "crash", script: CRASH_CHILD, env: { BENCH_RECORD: record } }];
  const deployment = await peer.deploy({ dir, programs });
  try {
    await waitFor(
      () => recordCount(record) > crashes,
      30_000 + crashes * 2_000,
      `${crashes} crashes under ${peer.name}`,
    );
  } finally {
    await deployment.teardown();
  }
  return gaps(crashLives(record), crashes);
}

/** Returns { floor: gaps, [peer.name]: gaps }. */
export async function measureRespawn({ peers, runDir, crashes, log }) {
  const results = {};
  log(`respawn: floor (${crashes} spawns)`);
  results.floor = await floor(path.join(runDir, "respawn-floor"), crashes);
  for (const peer of peers) {
    log(`respawn: ${peer.name} (${crashes} crashes)`);
    results[peer.name] = await underPeer(peer, path.join(runDir, `respawn-${peer.name}`), crashes);
  }
  return results;
}
