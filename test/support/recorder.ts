/**
 * An event recorder subscribed before the action under test happens (so no event can be missed), with
 * cursor-based waits: successive `next` calls see successive events.
 */
import type { RmxClient } from "../../ipc/client.js";
import type { EventNotificationParams } from "../../ipc/protocol/jsonrpc.js";
import type { DaemonHandle } from "./daemon-harness.js";

/** An event as tests read it: payloads differ by topic and are checked field by field. */
export interface RecordedEvent extends Omit<EventNotificationParams, "payload"> {
  // biome-ignore lint/suspicious/noExplicitAny: each test asserts the fields of its topic's payload
  payload: any;
}

export interface Recorder {
  readonly events: RecordedEvent[];
  /**
   * Resolves with the first recorded event (from the cursor on) on `topic` matching `pred`; the cursor
   * then moves past it, so successive waits see successive events.
   */
  // biome-ignore lint/suspicious/noExplicitAny: see RecordedEvent
  next(topic: string, pred?: (payload: any) => boolean, timeoutMs?: number): Promise<RecordedEvent>;
  /** Every recorded event on `topic` (for a given runtime id when given). */
  all(topic: string, id?: string): RecordedEvent[];
  close(): Promise<void>;
}

/** Subscribes (and waits for the subscription to be in place) before returning. */
export async function record(h: DaemonHandle, topics: string[] = ["*"]): Promise<Recorder> {
  const client: RmxClient = await h.client();
  const events: RecordedEvent[] = [];
  const waiters = new Set<() => void>();
  let cursor = 0;
  await client.subscribe(topics, (e) => {
    events.push(e);
    for (const w of [...waiters]) w();
  });
  return {
    events,
    next(topic, pred = () => true, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const scan = (): boolean => {
          for (let i = cursor; i < events.length; i++) {
            const e = events[i] as RecordedEvent;
            if (e.topic === topic && pred(e.payload)) {
              cursor = i + 1;
              resolve(e);
              return true;
            }
          }
          return false;
        };
        if (scan()) return;
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = events
            .slice(cursor)
            .map((e) => `${e.topic} ${JSON.stringify(e.payload).slice(0, 200)}`)
            .join("\n  ");
          reject(
            new Error(`no matching ${topic} event within ${timeoutMs} ms; seen since cursor:\n  ${seen}`),
          );
        }, timeoutMs);
        const check = () => {
          if (scan()) {
            clearTimeout(timer);
            waiters.delete(check);
          }
        };
        waiters.add(check);
      });
    },
    all(topic, id) {
      return events.filter((e) => e.topic === topic && (id === undefined || e.payload?.id === id));
    },
    close: () => client.close(),
  };
}
