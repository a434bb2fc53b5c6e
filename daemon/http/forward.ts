/**
 * One request forwarded to a backend, its answer passed through to the client byte for byte (plain JSON
 * or server-sent events alike). Backpressure: when the client's socket is full (`write` returns false) the
 * backend's response is paused until `drain`, so a client that does not read slows the backend instead of
 * filling the daemon's memory. A client that goes away destroys the backend request, which frees the
 * backend's slot. Until the first byte is sent to the client, a failure comes back as `retry` so the
 * caller may try another cell; after it, the answer is cut. Plain-http backends go over the lean client
 * on node:net (upstream-exchange.ts), https ones over node:https (upstream-node.ts).
 */
import type http from "node:http";
import { exchange } from "./upstream-exchange.js";
import { forwardNode } from "./upstream-node.js";
import { wireOf } from "./upstream-wire.js";

/** Where a request goes, resolved once per runtime endpoint and route (upstream.ts), not per request. */
export interface UpstreamTarget {
  https: boolean;
  hostname: string;
  port: number;
  path: string;
  /** `POST http://127.0.0.1:8080/v1/chat/completions`, for messages. */
  label: string;
  /** The backend's auth headers and the content type; the length is added per request. */
  headers: Readonly<Record<string, string>>;
}

export interface ForwardRequest {
  target: UpstreamTarget;
  body: Buffer;
  /** Longest silence from the backend (connect, headers, or between two chunks). */
  idleTimeoutMs: number;
  /** Extra headers of the answer (CORS); not changed. */
  answerHeaders: Readonly<Record<string, string>>;
  /** The serving cell, answered as X-Rmx-Cell. */
  cell: string;
}

export type ForwardOutcome =
  /** Nothing reached the client: another cell may answer. */
  | { kind: "retry"; status?: number; message: string; timedOut: boolean }
  /** The backend answered this (4xx) and nothing was sent: the caller decides what the client sees. */
  | { kind: "refused"; status: number; body: string }
  | { kind: "done"; status: number; ttfbMs?: number }
  | { kind: "aborted"; ttfbMs?: number }
  | { kind: "broken"; message: string; ttfbMs?: number };

export function forward(
  client: http.ServerResponse,
  req: ForwardRequest,
  passStatus: (status: number) => boolean,
): Promise<ForwardOutcome> {
  const wire = wireOf(req.target);
  return wire === undefined ? forwardNode(client, req, passStatus) : exchange(client, req, wire, passStatus);
}
