/**
 * Idle deadlines for many bodies that share one idle time, on one timer: a body being read costs a Set
 * insertion and deletion, not a timer of its own (arming a Node timer asks libuv for the time, and every
 * request with a body armed one, since the body is parsed only after the request is handed over).
 * The timer sleeps until the earliest deadline of the bodies watched; when it fires, the stalled ones are
 * told and it sleeps again for the next one. A body is told no earlier than a timer of its own would.
 */
import { performance } from "node:perf_hooks";
import { realTimers, type Timers } from "../policy/timers.js";

export interface Watched {
  /** When the body last moved, on the watch's clock (performance.now() for the real one); now when added. */
  lastData: number;
  /** Called once, when it did not move for the idle time; the watch is dropped first. */
  stalled(): void;
}

export interface WatchClock {
  now(): number;
  /** Unref'd: a watched body's socket keeps the process up, the timer alone must not. */
  timers: Timers;
}

const REAL: WatchClock = { now: () => performance.now(), timers: realTimers };

export class IdleWatch {
  private readonly watched = new Set<Watched>();
  private armed = false;

  constructor(
    private readonly idleMs: number,
    private readonly clock: WatchClock = REAL,
  ) {}

  get size(): number {
    return this.watched.size;
  }

  add(w: Watched): void {
    this.watched.add(w);
    // A body added now has a later deadline than every watched one: a timer armed already comes first.
    if (!this.armed) this.arm(this.idleMs);
  }

  /** The body is done. The timer is left to fire (and find nothing): clearing it per body costs what the Set saves. */
  delete(w: Watched): void {
    this.watched.delete(w);
  }

  private arm(ms: number): void {
    this.armed = true;
    this.clock.timers.setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.armed = false;
    const now = this.clock.now();
    let next = Number.POSITIVE_INFINITY;
    const stalled: Watched[] = [];
    for (const w of this.watched) {
      const left = w.lastData + this.idleMs - now;
      if (left <= 0) stalled.push(w);
      else if (left < next) next = left;
    }
    // Armed while the stalled are told: a body one of them adds is covered by the timer armed below.
    this.armed = true;
    for (const w of stalled) {
      this.watched.delete(w);
      w.stalled();
    }
    if (this.watched.size === 0) this.armed = false;
    else this.arm(Math.max(1, Math.ceil(Math.min(next, this.idleMs))));
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
