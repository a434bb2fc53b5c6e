/** Helpers for the gateway tests: a daemon with the gateway on a free port, its token and base URL. */
import http from "node:http";
import OpenAI from "openai";
import { call } from "../policy-e2e/support.js";
import { type DaemonHandle, type StartOptions, startDaemon, until } from "../support/daemon-harness.js";

export interface Gateway {
  d: DaemonHandle;
  token: string;
  /** host:port */
  listen: string;
  baseURL: string;
  openai(opts?: { apiKey?: string; headers?: Record<string, string> }): OpenAI;
}

export async function startGateway(opts: StartOptions & { http?: string } = {}): Promise<Gateway> {
  const d = await startDaemon({
    ...opts,
    args: [...(opts.args ?? []), "--http", opts.http ?? "127.0.0.1:0"],
  });
  // The socket answers before the gateway has bound its port: wait for it to listen (or to say why not).
  const token = () =>
    call<{ token?: string; listen?: string; base_url?: string; problem?: string }>(d, "http.token");
  await until(
    async () => {
      const t = await token();
      return t.listen !== undefined || t.problem !== undefined;
    },
    10_000,
    "the HTTP gateway to listen",
  );
  const info = await token();
  if (info.listen === undefined || info.base_url === undefined)
    throw new Error(`gateway not listening: ${JSON.stringify(info)}\n${d.stderr()}`);
  const baseURL = info.base_url;
  return {
    d,
    token: info.token ?? "",
    listen: info.listen,
    baseURL,
    openai: (o = {}) =>
      new OpenAI({
        baseURL,
        apiKey: o.apiKey ?? info.token ?? "none",
        maxRetries: 0,
        timeout: 60_000,
        ...(o.headers ? { defaultHeaders: o.headers } : {}),
      }),
  };
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One raw request (for headers the OpenAI client never sends, like a foreign Host). */
export function raw(
  listen: string,
  // `chunks` are written one by one (chunked transfer), so a body can end anywhere.
  opts: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunks?: Buffer[];
  },
): Promise<RawAnswer> {
  const colon = listen.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      {
        host: listen.slice(0, colon).replace(/^\[|\]$/g, ""),
        port: Number(listen.slice(colon + 1)),
        method: opts.method ?? "GET",
        path: opts.path,
        headers: opts.headers ?? {},
        agent: false,
      },
      (res) => {
        answered = true;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    // A refused upload (413) is answered before the body is sent: the rest of it then fails with EPIPE.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    for (const c of opts.chunks ?? []) req.write(c);
    req.end(opts.body);
  });
}

/** GET on a stub runtime (its /slots, /metrics). */
export async function stubGet(endpoint: string, path: string): Promise<unknown> {
  const res = await fetch(`${endpoint}${path}`);
  return res.json();
}
