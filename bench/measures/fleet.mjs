/**
 * Fleets of the tiny HTTP child under each peer:
 * - start-up: from no daemon at all to every child listening (each child records when it listens, so the
 *   yardstick is the same for every peer); for ours also until rmxd reports every runtime `ready`;
 * - cold status: wall time of `rmx runtime status --json`, `pm2 jlist`, `supervisorctl status`;
 * - round trips (small fleet): the client library's `runtime.status` (and `daemon.hello`) vs PM2's
 *   programmatic `pm2.list`, over one connection.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { timedRun, waitFor } from "../lib/procs.mjs";
import { epochNow, httpPrograms, listening, recordFile } from "../lib/records.mjs";

/** Why a status command's output does not cover the whole fleet, or undefined when it does. */
function invalidStatus(peer, result, size, deployment) {
  let listed;
  try {
    listed = deployment.listed(result);
  } catch (error) {
    listed = `unreadable (${error.message})`;
  }
  if (listed === size) return undefined;
  return (
    `${peer.name} status (exit ${result.code}, ${Math.round(result.ms)} ms) listed ${listed} running children, ` +
    `expected ${size}; stdout ${JSON.stringify(result.stdout.slice(0, 200))}, ` +
    `stderr ${JSON.stringify(result.stderr.slice(0, 200))}`
  );
}

/**
 * Cold runs of the peer's status command. A run whose output does not list the whole fleet is not
 * timed as an answer: it is kept aside in `invalid` (and reported), and the run goes on.
 */
async function coldStatus(peer, deployment, size, runs) {
  const { command, args, env } = deployment.statusCommand;
  const invalid = [];
  const warmUp = await timedRun(command, args, { env }); // page cache, and a first check of the output
  const why = invalidStatus(peer, warmUp, size, deployment);
  if (why) invalid.push(why);
  const samples = [];
  for (let i = 0; i < runs && invalid.length <= runs / 2; i++) {
    const r = await timedRun(command, args, { env });
    const problem = invalidStatus(peer, r, size, deployment);
    if (problem) invalid.push(problem);
    else samples.push(r.ms);
  }
  if (samples.length === 0) throw new Error(invalid[0]);
  return { samples, invalid };
}

async function roundTrips(deployment, calls) {
  const api = await deployment.connect();
  try {
    const time = async (fn) => {
      for (let i = 0; i < Math.min(50, calls); i++) await fn(); // warm-up: JIT, buffers
      const samples = [];
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await fn();
        samples.push(performance.now() - t);
      }
      return samples;
    };
    const answer = JSON.stringify(await api.list());
    const out = { list: await time(api.list), answer, answerBytes: Buffer.byteLength(answer) };
    if (api.hello) out.hello = await time(api.hello);
    return out;
  } finally {
    await api.close();
  }
}

/**
 * Deploys `size` children under `peer` from nothing and waits for all of them. Returns the deployment
 * with the start-up figures (ms from the start command to the last child listening; ours also to all ready).
 */
async function deployFleet(peer, dir, size) {
  const record = recordFile(dir, "listening.rec");
  const t0 = epochNow();
  const deployment = await peer.deploy({ dir, programs: httpPrograms(size, record) });
  try {
    const readyAt = deployment.allReady ? deployment.allReady() : undefined;
    // Observed even if listening fails first, so a rejection is never left unhandled.
    readyAt?.catch(() => {});
    await waitFor(() => listening(record).size >= size, 60_000 + size * 1_000, `${size} children listening`);
    const allListening = Math.max(...listening(record).values()) - t0;
    const allReady = readyAt ? performance.timeOrigin + (await readyAt) - t0 : undefined;
    return { deployment, allListening, allReady };
  } catch (error) {
    await deployment.teardown();
    throw error;
  }
}

/**
 * The large fleet: start-up `repeats` times from nothing; cold status on the first deployment.
 * Returns per peer { startup: [ms], startupReady?: [ms], status: [ms], statusInvalid: [why] }.
 */
export async function measureLargeFleet({ peers, runDir, size, repeats, statusRuns, log }) {
  const results = {};
  for (let r = 0; r < repeats; r++) {
    for (const peer of peers) {
      log(`start-up: ${peer.name}, ${size} children (${r + 1}/${repeats})`);
      results[peer.name] ??= { startup: [], startupReady: [], status: [] };
      const res = results[peer.name];
      const { deployment, allListening, allReady } = await deployFleet(
        peer,
        path.join(runDir, `fleet-${size}-${peer.name}-${r}`),
        size,
      );
      try {
        res.startup.push(allListening);
        if (allReady !== undefined) res.startupReady.push(allReady);
        if (r === 0) {
          log(`status: ${peer.name}, ${size} children, ${statusRuns} cold runs`);
          const cold = await coldStatus(peer, deployment, size, statusRuns);
          res.status = cold.samples;
          res.statusInvalid = cold.invalid;
        }
      } finally {
        await deployment.teardown();
      }
    }
  }
  return results;
}

/**
 * The floor of a cold CLI: `node -e 0` with the same environment (Node's own start-up, which
 * NODE_EXTRA_CA_CERTS lengthens), so a cold status figure can be read against it.
 */
export async function measureNodeFloor({ runs, log }) {
  log(`status: floor, ${runs} runs of node -e 0`);
  await timedRun(process.execPath, ["-e", "0"]);
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push((await timedRun(process.execPath, ["-e", "0"])).ms);
  return samples;
}

/** The small fleet: cold status and round trips. Returns per peer { status: [ms], statusInvalid: [why], list?: [ms], hello?: [ms] }. */
export async function measureSmallFleet({ peers, runDir, size, statusRuns, calls, log }) {
  const results = {};
  for (const peer of peers) {
    log(`status: ${peer.name}, ${size} children, ${statusRuns} cold runs, ${calls} round trips`);
    const { deployment } = await deployFleet(peer, path.join(runDir, `fleet-${size}-${peer.name}`), size);
    try {
      const cold = await coldStatus(peer, deployment, size, statusRuns);
      const res = { status: cold.samples, statusInvalid: cold.invalid };
      if (deployment.connect) Object.assign(res, await roundTrips(deployment, calls));
      results[peer.name] = res;
    } finally {
      await deployment.teardown();
    }
  }
  return results;
}
