/**
 * Idle deadlines for many bodies that share one idle time, on one timer: a body being read costs two
 * links in a list, not a timer of its own (every request with a body armed one, since a body is parsed
 * only after its request is handed over, and creating, arming and clearing a Node timer per request cost
 * more than reading the body did). A list, not a Set: hashing a fresh object per request costs as much.
 * The timer sleeps until the earliest deadline of the bodies watched; when it fires, the stalled ones are
 * told and it sleeps again for the next one. A body is told no earlier than a timer of its own would.
 */

import { monotonicMs } from "../../base/monotonic.js";
import { realTimers, type Timers } from "../policy/timers.js";

/** A body being read, linked into its watch's list while watched. */
export class Watched {
  prev: Watched | undefined;
  next: Watched | undefined;
  watched = false;

  constructor(
    /** When the body last moved, on the watch's clock (monotonicMs() for the real one); now when added. */
    public lastData: number,
    /** Called once, when it did not move for the idle time; the watch is dropped first. */
    readonly stalled: () => void,
  ) {}
}

export interface WatchClock {
  now(): number;
  /** Unref'd: a watched body's socket keeps the process up, the timer alone must not. */
  timers: Timers;
}

const REAL: WatchClock = { now: () => monotonicMs(), timers: realTimers };

export class IdleWatch {
  private head: Watched | undefined;
  private tail: Watched | undefined;
  private count = 0;
  private armed = false;

  constructor(
    private readonly idleMs: number,
    private readonly clock: WatchClock = REAL,
  ) {}

  get size(): number {
    return this.count;
  }

  add(w: Watched): void {
    if (w.watched) return;
    w.watched = true;
    w.prev = this.tail;
    w.next = undefined;
    if (this.tail === undefined) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    this.count++;
    // A body added now has a later deadline than every watched one: a timer armed already comes first.
    if (!this.armed) this.arm(this.idleMs);
  }

  /** The body is done. The timer is left to fire (and find nothing): clearing it per body costs what the list saves. */
  delete(w: Watched): void {
    if (!w.watched) return;
    w.watched = false;
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = undefined;
    w.next = undefined;
    this.count--;
  }

  private arm(ms: number): void {
    this.armed = true;
    this.clock.timers.setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    const now = this.clock.now();
    let next = Number.POSITIVE_INFINITY;
    const stalled: Watched[] = [];
    for (let w = this.head; w !== undefined; w = w.next) {
      const left = w.lastData + this.idleMs - now;
      if (left <= 0) stalled.push(w);
      else if (left < next) next = left;
    }
    // Still armed while the stalled are told: a body one of them adds is covered by the timer armed below.
    for (const w of stalled) {
      this.delete(w);
      w.stalled();
    }
    if (this.count === 0) this.armed = false;
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
