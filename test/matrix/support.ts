/** Helpers for the matrix's daemon tests: typed socket calls, event collection, load generation. */

import type { RmxClient } from "../../ipc/client.js";
import type { HardwareResult } from "../../ipc/protocol/hardware.js";
import type { EventNotificationParams } from "../../ipc/protocol/jsonrpc.js";
import type { MatrixCell, MatrixResult } from "../../ipc/protocol/matrix.js";
import type { DaemonHandle } from "../support/daemon-harness.js";

export async function call<T>(d: DaemonHandle, method: string, params?: unknown): Promise<T> {
  const c = await d.client();
  try {
    return (await c.call(method, params)) as T;
  } finally {
    await c.close();
  }
}

export const matrixOf = (d: DaemonHandle) => call<MatrixResult>(d, "matrix.get");
export const hardwareOf = (d: DaemonHandle, refresh = false) =>
  call<HardwareResult>(d, "hardware.get", { refresh });

export function cellIn(result: MatrixResult, key: string): MatrixCell {
  const cell = result.cells.find((c) => c.key === key);
  if (cell === undefined) throw new Error(`no cell ${key} in ${result.cells.map((c) => c.key).join(", ")}`);
  return cell;
}

/** Subscribes first (so nothing is missed), then lets the test wait for a matching event. */
export async function collect(client: RmxClient, topics: string[]) {
  const seen: EventNotificationParams[] = [];
  const waiters = new Set<() => void>();
  await client.subscribe(topics, (e) => {
    seen.push(e);
    for (const w of waiters) w();
  });
  return {
    seen,
    /** Index of the next event to arrive: pass it to `next` to look at events from that point on. */
    mark: () => seen.length,
    /** The first matching event from `since` on (default: events that arrive after this call). */
    next(
      pred: (e: EventNotificationParams) => boolean,
      timeoutMs: number,
      what: string,
      since = seen.length,
    ) {
      const from = since;
      return new Promise<EventNotificationParams>((resolve, reject) => {
        const check = () => {
          const hit = seen.slice(from).find(pred);
          if (hit === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no event: ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** `workers` loops of chat requests against a stub until `stop()`; counts the tokens it got back. */
export function chatLoad(endpoint: string, workers: number, maxTokens: number) {
  let running = true;
  let tokens = 0;
  let requests = 0;
  const loop = async () => {
    while (running) {
      const res = await fetch(`${endpoint}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          messages: [{ role: "user", content: "count to ten" }],
          max_tokens: maxTokens,
        }),
      });
      const body = (await res.json()) as { usage?: { completion_tokens?: number } };
      tokens += body.usage?.completion_tokens ?? 0;
      requests++;
    }
  };
  const done = Promise.all(Array.from({ length: workers }, loop));
  return {
    get tokens() {
      return tokens;
    },
    get requests() {
      return requests;
    },
    async stop() {
      running = false;
      await done;
    },
  };
}
