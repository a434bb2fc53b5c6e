import type pidusageModule from "pidusage";
import type { ProcessSample } from "../../ipc/protocol/hardware.js";
import { ProcStatSampler } from "./proc-stat.js";

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * CPU and RSS of the given processes: from /proc on Linux (proc-stat.ts), else with ONE batched pidusage call.
 * Pids that are gone are left out: they are filtered before the call, and because pidusage rejects a whole batch when one pid vanishes in between (ps
 * back-end), a rejected batch is retried with the survivors, then pid by pid.
 */
export async function sampleProcesses(pids: readonly number[]): Promise<Record<number, ProcessSample>> {
  const valid = [...new Set(pids)].filter((pid) => Number.isInteger(pid) && pid > 0);
  if (process.platform === "linux") {
    // The read of its stat file is the liveness check: a gone pid has none (no kill(pid, 0) first).
    procStat ??= new ProcStatSampler();
    return procStat.sample(valid);
  }
  const live = valid.filter(isAlive);
  if (live.length === 0) return {};
  // Elsewhere pidusage (ps or the Windows API), loaded only there.
  pidusageLoaded ??= import("pidusage").then((m) => m.default);
  return sampleWithPidusage(await pidusageLoaded, live);
}

let procStat: ProcStatSampler | undefined;
let pidusageLoaded: Promise<typeof pidusageModule> | undefined;

async function sampleWithPidusage(
  pidusage: typeof pidusageModule,
  live: number[],
): Promise<Record<number, ProcessSample>> {
  let stats: Record<number, pidusageModule.Status | null | undefined>;
  try {
    stats = await pidusage(live);
  } catch {
    const survivors = live.filter(isAlive);
    if (survivors.length === 0) return {};
    try {
      stats = await pidusage(survivors);
    } catch {
      stats = {};
      const settled = await Promise.allSettled(survivors.map((pid) => pidusage([pid])));
      settled.forEach((result, i) => {
        const pid = survivors[i];
        if (pid !== undefined && result.status === "fulfilled") stats[pid] = result.value[pid];
      });
    }
  }
  const samples: Record<number, ProcessSample> = {};
  for (const pid of live) {
    const stat = stats[pid];
    if (stat === null || stat === undefined) continue;
    samples[pid] = { pid, cpu_percent: round2(stat.cpu), rss_bytes: stat.memory };
  }
  return samples;
}

function round2(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : 0;
}
