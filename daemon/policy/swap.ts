/**
 * Swap groups, the pure decision: runtimes placed on one GPU whose memory estimates cannot all fit its VRAM
 * run exclusively. Before one of them starts, the least recently used idle ones on its GPUs are stopped until
 * it fits; a runtime with requests in flight is never stopped (the start waits instead). A runtime placed on
 * several GPUs (`gpu:0,1`, tensor parallel) is a member of every listed GPU's group and needs an equal share
 * of its estimate on each. No I/O, no clock of its own: `now` comes from the caller's injected clock, only
 * for the reason's wording.
 */

import { gpuIndices } from "../../adapters/shared/placement.js";
import { formatBytes } from "../../base/format.js";

export interface SwapMember {
  id: string;
  /** The GPUs it is placed on (`gpu:0`, or `gpu:0` and `gpu:1` for `gpu:0,1`); CPU runtimes never swap. */
  gpus: readonly string[];
  /** The model's memory estimate (adapters/model-formats.ts); undefined when unknown: it never swaps. */
  needBytes: number | undefined;
  /** Holding (or about to hold) its memory: starting, ready, unhealthy, stopping. */
  running: boolean;
  /** Requests in flight and busy leases. */
  busy: number;
  /** Clock time of its last request (or start). */
  lastRequestAt: number;
}

export type SwapDecision =
  /** Nothing needs to stop: the start fits beside what runs (or nothing is known to compare). */
  | { kind: "fits"; reason: string }
  /** Stop these (LRU idle first), then start. */
  | { kind: "stop"; victims: string[]; reason: string }
  /** Only stopping busy runtimes would make room: wait for one to go idle. */
  | { kind: "wait"; busy: string[]; reason: string };

/** What a member holds on each of its GPUs: tensor parallel splits the weights and the cache evenly. */
export function shareOf(m: Pick<SwapMember, "gpus" | "needBytes">): number {
  return m.gpus.length === 0 ? 0 : (m.needBytes ?? 0) / m.gpus.length;
}

const byLru = (a: SwapMember, b: SwapMember) =>
  a.lastRequestAt - b.lastRequestAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * What starting `startId` needs on its GPUs (`vram` by GPU id; a GPU of unknown size is not compared). A
 * runtime whose share alone exceeds a GPU is let through ("fits": the matrix already says it does not fit;
 * stopping others would not help).
 */
export function planSwap(
  startId: string,
  members: readonly SwapMember[],
  vram: ReadonlyMap<string, number>,
  now: number,
): SwapDecision {
  const target = members.find((m) => m.id === startId);
  const gpus = target?.gpus.filter((g) => vram.has(g)) ?? [];
  if (target === undefined || target.needBytes === undefined || gpus.length === 0)
    return { kind: "fits", reason: "no estimate or no known VRAM: not in a swap group" };
  const share = shareOf(target);
  const size = (g: string) => vram.get(g) ?? 0;
  const head = `${startId} needs ${gpus.map((g) => `${formatBytes(share)} on ${g} (${formatBytes(size(g))})`).join(", ")}`;
  const tooBig = gpus.find((g) => share > size(g));
  if (tooBig !== undefined)
    return {
      kind: "fits",
      reason: `${startId} alone needs ${formatBytes(share)}, more than ${tooBig}'s ${formatBytes(size(tooBig))}: stopping others would not help`,
    };
  const others = members.filter(
    (m) => m.id !== startId && m.running && m.needBytes !== undefined && m.gpus.some((g) => gpus.includes(g)),
  );
  const used = new Map(gpus.map((g) => [g, 0]));
  for (const m of others)
    for (const g of m.gpus) if (used.has(g)) used.set(g, (used.get(g) ?? 0) + shareOf(m));
  const over = () => gpus.filter((g) => (used.get(g) ?? 0) + share > size(g));
  if (over().length === 0) {
    const inUse = gpus.map((g) => formatBytes(used.get(g) ?? 0)).join(", ");
    return { kind: "fits", reason: `${head}; ${inUse} in use by others: it fits` };
  }
  const victims: string[] = [];
  const why: string[] = [];
  for (const m of others.filter((o) => o.busy === 0).sort(byLru)) {
    const short = over();
    if (short.length === 0) break;
    // Only a runtime on a GPU that is still short frees anything that helps.
    if (!m.gpus.some((g) => short.includes(g))) continue;
    victims.push(m.id);
    for (const g of m.gpus) if (used.has(g)) used.set(g, (used.get(g) ?? 0) - shareOf(m));
    why.push(`${m.id} (${formatBytes(m.needBytes ?? 0)}, idle ${Math.max(0, now - m.lastRequestAt)} ms)`);
  }
  if (over().length === 0)
    return {
      kind: "stop",
      victims,
      reason: `${head} and cannot fit beside the runtimes there: stopping the least recently used idle ${why.join(", ")}`,
    };
  const busy = others.filter((m) => m.busy > 0).map((m) => m.id);
  return {
    kind: "wait",
    busy,
    reason: `${head}; only stopping ${busy.join(", ")}, which serve requests now, would make room: waiting for them to go idle`,
  };
}

/** The swap groups (`gpu:N` ids, as the inventory names GPUs) a runtime placed on `hardwareId` belongs to. */
export function swapGroupsOf(hardwareId: string): string[] {
  return gpuIndices(hardwareId).map((i) => `gpu:${i}`);
}
