/**
 * Swap groups, the pure decision: runtimes placed on one GPU whose memory estimates cannot all fit its VRAM
 * run exclusively. Before one of them starts, the least recently used idle ones on that GPU are stopped until
 * it fits; a runtime with requests in flight is never stopped (the start waits instead). No I/O, no clock of
 * its own: `now` comes from the caller's injected clock, only for the reason's wording.
 */
import { formatBytes } from "../../base/format.js";

export interface SwapMember {
  id: string;
  /** The GPU it is placed on (`gpu:0`); runtimes on the CPU never swap. */
  gpu: string;
  /** The GGUF estimate (daemon/models/estimate.ts); undefined when unknown: such a runtime never swaps. */
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

/**
 * What starting `startId` needs on its GPU of `vramBytes`. A runtime whose estimate alone exceeds the GPU is
 * let through ("fits": the matrix already says it does not fit; stopping others would not help).
 */
export function planSwap(
  startId: string,
  members: readonly SwapMember[],
  vramBytes: number | undefined,
  now: number,
): SwapDecision {
  const target = members.find((m) => m.id === startId);
  if (target === undefined || target.needBytes === undefined || vramBytes === undefined)
    return { kind: "fits", reason: "no estimate or no known VRAM: not in a swap group" };
  const need = target.needBytes;
  if (need > vramBytes)
    return {
      kind: "fits",
      reason: `${startId} alone needs ${formatBytes(need)}, more than ${target.gpu}'s ${formatBytes(vramBytes)}: stopping others would not help`,
    };
  const others = members.filter(
    (m) => m.id !== startId && m.gpu === target.gpu && m.running && m.needBytes !== undefined,
  );
  let used = others.reduce((sum, m) => sum + (m.needBytes ?? 0), 0);
  const head = `${startId} needs ${formatBytes(need)} on ${target.gpu} (${formatBytes(vramBytes)})`;
  if (used + need <= vramBytes)
    return { kind: "fits", reason: `${head}; ${formatBytes(used)} in use by others: it fits` };
  const idle = others
    .filter((m) => m.busy === 0)
    .sort((a, b) => a.lastRequestAt - b.lastRequestAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const victims: string[] = [];
  const why: string[] = [];
  for (const m of idle) {
    if (used + need <= vramBytes) break;
    victims.push(m.id);
    used -= m.needBytes ?? 0;
    why.push(`${m.id} (${formatBytes(m.needBytes ?? 0)}, idle ${Math.max(0, now - m.lastRequestAt)} ms)`);
  }
  if (used + need <= vramBytes)
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
