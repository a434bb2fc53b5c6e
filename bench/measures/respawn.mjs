/**
 * Crash to respawn: one child that exits at once, restarted with no configured delay. Each life records
 * its own start and exit; respawn latency = next start − previous exit, identical for every peer and for
 * the floor (a plain loop spawning the same child with nothing around it).
 *
 * The crashes are split into rounds and each round runs the floor and every peer in a rotated order, so
 * a change in the machine's load during the measure falls on all of them alike (a shared 2-core machine
 * moves a bare spawn by 1-2 ms between minutes; one long phase each made the ratio swing 1.0-1.6).
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

/** Rounds for `crashes`: about 20 crashes each, at most 5 (a deploy per peer and round). */
export function respawnRounds(crashes) {
  return Math.max(1, Math.min(5, Math.round(crashes / 20)));
}

/** Returns { floor: gaps, [peer.name]: gaps }, each pooled over the rounds. */
export async function measureRespawn({ peers, runDir, crashes, log, rounds = respawnRounds(crashes) }) {
  const subjects = [
    { name: "floor", run: (dir, n) => floor(dir, n) },
    ...peers.map((peer) => ({ name: peer.name, run: (dir, n) => underPeer(peer, dir, n) })),
  ];
  const results = Object.fromEntries(subjects.map((s) => [s.name, { running: [], born: [] }]));
  const perRound = Math.ceil(crashes / rounds);
  for (let round = 0; round < rounds; round++) {
    const order = subjects.map((_, i) => subjects[(i + round) % subjects.length]);
    log(
      `respawn: round ${round + 1}/${rounds}, ${perRound} crashes each (${order.map((s) => s.name).join(", ")})`,
    );
    for (const subject of order) {
      const gaps = await subject.run(path.join(runDir, `respawn-${subject.name}-${round}`), perRound);
      results[subject.name].running.push(...gaps.running);
      results[subject.name].born.push(...gaps.born);
    }
  }
  return results;
}
