/**
 * Helpers for the policy end-to-end tests: an event recorder that subscribes BEFORE the action it waits
 * for (so no event slips between an action and a late subscription), typed policy calls, and a fake
 * OpenAI-compatible server on loopback that insists on a bearer key.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type RmxClient, RpcCallError } from "../../ipc/client.js";
import type { EventNotificationParams } from "../../ipc/protocol/jsonrpc.js";
import type { DaemonHandle } from "../support/daemon-harness.js";

type Payload = Record<string, unknown>;

export interface EventRecorder {
  events: EventNotificationParams[];
  /** Resolves with the first recorded event (past or future) on `topic` matching `predicate`. */
  waitFor(
    topic: string,
    predicate?: (payload: Payload) => boolean,
    timeoutMs?: number,
  ): Promise<EventNotificationParams>;
  /** Events on `topic` matching `predicate` recorded so far. */
  seen(topic: string, predicate?: (payload: Payload) => boolean): EventNotificationParams[];
  close(): Promise<void>;
}

export async function recordEvents(handle: DaemonHandle, topics: string[]): Promise<EventRecorder> {
  const client = await handle.client();
  const events: EventNotificationParams[] = [];
  const waiters = new Set<() => void>();
  await client.subscribe(topics, (e) => {
    events.push(e);
    for (const w of [...waiters]) w();
  });
  const seen = (topic: string, predicate: (payload: Payload) => boolean = () => true) =>
    events.filter((e) => e.topic === topic && predicate(e.payload as Payload));
  return {
    events,
    seen,
    waitFor(topic, predicate = () => true, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = seen(topic, predicate)[0];
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const recent = events.slice(-8).map((e) => `${e.topic} ${JSON.stringify(e.payload)}`);
          reject(
            new Error(
              `no matching ${topic} event within ${timeoutMs} ms; last events:\n${recent.join("\n")}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => client.close(),
  };
}

/** One call on a fresh connection. */
export async function call<T = unknown>(
  handle: DaemonHandle,
  method: string,
  params?: unknown,
  timeoutMs = 60_000,
): Promise<T> {
  const client: RmxClient = await handle.client();
  try {
    return (await client.call(method, params, { timeoutMs })) as T;
  } finally {
    await client.close();
  }
}

/** The error a call fails with (the test fails if it succeeds). */
export async function callError(
  handle: DaemonHandle,
  method: string,
  params?: unknown,
): Promise<RpcCallError> {
  try {
    const result = await call(handle, method, params);
    throw new Error(`${method} unexpectedly succeeded: ${JSON.stringify(result)}`);
  } catch (error) {
    if (error instanceof Error && error.message.includes("unexpectedly succeeded")) throw error;
    if (error instanceof RpcCallError) return error;
    throw error;
  }
}

export interface FakeOpenAi {
  url: string;
  /** Authorization headers of every request it got. */
  authorizations: string[];
  chats: number;
  /** While set, chat completions answer 500. */
  failing: boolean;
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible endpoint that answers only with `Authorization: Bearer <key>`; chats for a model in
 * `slowModels` are answered after that many ms.
 */
export async function startFakeOpenAi(
  key: string,
  model: string,
  slowModels: Record<string, number> = {},
): Promise<FakeOpenAi> {
  const state = { authorizations: [] as string[], chats: 0, failing: false };
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? "";
    state.authorizations.push(auth);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
    });
    req.on("end", () => {
      if (auth !== `Bearer ${key}`) return send(401, { error: { message: "invalid api key" } });
      if (req.method === "GET" && req.url === "/v1/models") {
        return send(200, { object: "list", data: [{ id: model, object: "model" }] });
      }
      if (req.method === "POST" && req.url === "/v1/chat/completions") {
        state.chats++;
        if (state.failing) return send(500, { error: { message: "upstream exploded" } });
        const request = JSON.parse(body) as { model?: string; messages: { content: string }[] };
        const delay = request.model !== undefined ? (slowModels[request.model] ?? 0) : 0;
        return void setTimeout(
          () =>
            send(200, {
              id: "chatcmpl-fake",
              object: "chat.completion",
              model: request.model,
              choices: [
                {
                  index: 0,
                  finish_reason: "stop",
                  message: {
                    role: "assistant",
                    content: `remote says hi to ${request.messages.length} message(s)`,
                  },
                },
              ],
              usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
            }),
          delay,
        );
      }
      send(404, { error: { message: `no route ${req.method} ${req.url}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get authorizations() {
      return state.authorizations;
    },
    get chats() {
      return state.chats;
    },
    get failing() {
      return state.failing;
    },
    set failing(v: boolean) {
      state.failing = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
