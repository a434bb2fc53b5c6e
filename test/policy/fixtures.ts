import type { ManualClock } from "../../base/clock.js";
import type { SandboxKind } from "../../base/spec.js";
import type { Candidate } from "../../daemon/policy/resolve.js";
import type { Timers } from "../../daemon/policy/timers.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";

/** Timers driven by a ManualClock: `advance` moves the clock to each due timer in order and fires it. */
export class FakeTimers implements Timers {
  private seq = 0;
  private readonly pending = new Map<number, { at: number; order: number; fn: () => void }>();
  /** Every delay ever requested, to check the 2^31-1 guard. */
  readonly requested: number[] = [];

  constructor(private readonly clock: ManualClock) {}

  setTimeout(fn: () => void, ms: number): unknown {
    this.seq += 1;
    this.requested.push(ms);
    this.pending.set(this.seq, { at: this.clock.now() + ms, order: this.seq, fn });
    return this.seq;
  }

  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }

  get size(): number {
    return this.pending.size;
  }

  /** When the earliest pending timer is due. */
  nextAt(): number | undefined {
    let min: number | undefined;
    for (const t of this.pending.values()) if (min === undefined || t.at < min) min = t.at;
    return min;
  }

  advance(ms: number): void {
    const end = this.clock.now() + ms;
    for (;;) {
      let next: [number, { at: number; order: number; fn: () => void }] | undefined;
      for (const entry of this.pending) {
        if (entry[1].at > end) continue;
        if (
          next === undefined ||
          entry[1].at < next[1].at ||
          (entry[1].at === next[1].at && entry[1].order < next[1].order)
        ) {
          next = entry;
        }
      }
      if (next === undefined) break;
      this.pending.delete(next[0]);
      if (next[1].at > this.clock.now()) this.clock.set(next[1].at);
      next[1].fn();
    }
    this.clock.set(end);
  }
}

export function makeCell(
  model: string,
  hardware: string,
  sandbox: SandboxKind,
  over: Partial<MatrixCell> = {},
): MatrixCell {
  return {
    key: `${model}@${hardware}/${sandbox}`,
    model,
    hardware,
    sandbox,
    available: true,
    runtimes: [],
    status: { code: "ready", severity: "info", severity_label: "Info", label: "Ready", aria_hint: "Ready" },
    throughput: {},
    load: { leases_held: 0, lease_capacity: 1 },
    fit: { fits: true, reason: "fits" },
    updated: "2026-01-01T00:00:00.000Z",
    ...over,
  };
}

export function makeCandidate(cell: MatrixCell, over: Partial<Candidate> = {}): Candidate {
  const remote = over.remote ?? cell.hardware === "remote";
  return {
    cell,
    runtimeId: `rt-${cell.key}`,
    remote,
    healthy: true,
    state: "ready",
    lease_free: 1,
    capabilities: [
      ...(cell.hardware.startsWith("gpu") ? ["gpu"] : []),
      ...(cell.sandbox === "none" ? [] : [`sandbox:${cell.sandbox}`]),
    ],
    ...over,
  };
}

/** Polls a condition until it holds or the deadline passes. */
export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
