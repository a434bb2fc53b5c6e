/**
 * Idle deadlines for many bodies that share one idle time, on one timer: a body being read costs a Set
 * insertion and deletion, not a timer of its own (arming a Node timer asks libuv for the time, and every
 * request with a body armed one, since the body is parsed only after the request is handed over).
 * The timer sleeps until the earliest deadline of the bodies watched; when it fires, the stalled ones are
 * told and it sleeps again for the next one. A deadline fires no earlier than a per-body timer would.
 */
import { performance } from "node:perf_hooks";

export interface Watched {
  /** When the body last moved (performance.now()). */
  lastData: number;
  /** Called once, when it did not move for the idle time; the watch is dropped first. */
  stalled(): void;
}

export class IdleWatch {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs: number) {}

  get size(): number {
    return this.watched.size;
  }

  add(w: Watched): void {
    this.watched.add(w);
    // A body added later has a later deadline than any watched one: the timer armed already comes first.
    if (this.timer === undefined) this.arm(this.idleMs);
  }

  delete(w: Watched): void {
    this.watched.delete(w);
    // The timer is left to fire and find nothing: clearing it per body would cost what the Set saves.
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    const stalled: Watched[] = [];
    for (const w of this.watched) {
      const left = w.lastData + this.idleMs - now;
      if (left <= 0) stalled.push(w);
      else if (left < next) next = left;
    }
    for (const w of stalled) {
      this.watched.delete(w);
      w.stalled();
    }
    if (this.watched.size > 0 && this.timer === undefined) this.arm(Math.max(1, Math.ceil(next)));
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms);
    // Unref'd: a watched body's socket keeps the process up; the timer alone must not keep it up.
    this.timer.unref();
  }
}

const watches = new Map<number, IdleWatch>();

/** The shared watch of every body read with this idle time. */
export function idleWatch(idleMs: number): IdleWatch {
  let w = watches.get(idleMs);
  if (w === undefined) {
    w = new IdleWatch(idleMs);
    watches.set(idleMs, w);
  }
  return w;
}
