import type { Clock } from "../base/clock.js";
import { rfc3339 } from "../base/clock.js";
import { compileGlob } from "../base/glob.js";
import type { EventPayloads, Topic } from "../ipc/protocol/events.js";

export type { Topic };

export interface RmxEvent<P = unknown> {
  topic: Topic;
  /** Monotonic per daemon process, starting at 1. */
  seq: number;
  /** When it happened: RFC 3339 UTC with milliseconds. */
  time: string;
  payload: P;
}

export type EventListener = (event: RmxEvent) => void;

/**
 * Compiles a topic glob: `*` matches any run of characters (dots included), so `runtime.*`
 * matches `runtime.state.changed`; everything else is literal. Linear-time (base/glob.ts); a pattern over
 * the length or wildcard limit is refused with PATTERN_INVALID.
 */
export function compileTopicPattern(pattern: string): (topic: string) => boolean {
  const matcher = compileGlob(pattern, "topic pattern");
  if (/^\*+$/.test(pattern)) return () => true;
  return (topic) => matcher.test(topic);
}

interface Subscription {
  matches: (topic: string) => boolean;
  listener: EventListener;
}

/**
 * In-process publish/subscribe. Publishing is synchronous and cheap when nobody listens;
 * a listener that throws is isolated from the others.
 */
export class EventBus {
  private seq = 0;
  /** The last event's time (ms): a past `at` is not stamped before it. */
  private lastTime = Number.NEGATIVE_INFINITY;
  private readonly subs = new Set<Subscription>();
  private subscribed = 0;

  constructor(
    private readonly clock: Clock,
    private readonly onListenerError: (error: unknown, event: RmxEvent) => void = () => {},
  ) {}

  /**
   * `at` (ms since the epoch): when what the event reports happened, if not now. A supervisor's step forks
   * its respawn before it reports (runtime.ts, dispatch), so its events say the step's instant: a restart's
   * time is then the one its budget counted, and `reset_at` is exactly that plus the window. Never before
   * the last event's time: times rise with `seq`.
   */
  publish<T extends Topic>(topic: T, payload: EventPayloads[T], at?: number): RmxEvent<EventPayloads[T]> {
    this.seq += 1;
    const time = at === undefined ? this.clock.now() : Math.max(at, this.lastTime);
    this.lastTime = time;
    const event: RmxEvent<EventPayloads[T]> = {
      topic,
      seq: this.seq,
      time: rfc3339(time),
      payload,
    };
    for (const sub of this.subs) {
      if (!sub.matches(topic)) continue;
      try {
        sub.listener(event);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
    return event;
  }

  /** Returns the function that removes the subscription. */
  subscribe(patterns: readonly string[], listener: EventListener): () => void {
    const matchers = patterns.map(compileTopicPattern);
    const sub: Subscription = { matches: (t) => matchers.some((m) => m(t)), listener };
    this.subs.add(sub);
    this.subscribed += 1;
    return () => {
      this.subs.delete(sub);
    };
  }

  /** Resolves with the first event on `topic` for which `predicate` holds. */
  waitFor<P>(topic: Topic, predicate: (payload: P) => boolean, timeoutMs: number): Promise<RmxEvent<P>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${topic}`));
      }, timeoutMs);
      const off = this.subscribe([topic], (event) => {
        if (!predicate(event.payload as P)) return;
        clearTimeout(timer);
        off();
        resolve(event as RmxEvent<P>);
      });
    });
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Whether any subscription would receive `topic` (publishers skip building payloads nobody reads). */
  hasSubscribers(topic: Topic): boolean {
    for (const sub of this.subs) if (sub.matches(topic)) return true;
    return false;
  }

  /** Subscriptions ever made: a change-only publisher repeats its current state to a new one. */
  get subscriptionsMade(): number {
    return this.subscribed;
  }

  get subscriberCount(): number {
    return this.subs.size;
  }
}
