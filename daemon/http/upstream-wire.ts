/**
 * A target's request head as bytes, built once per target (upstream.ts builds a target once per runtime
 * endpoint and route): the same head node:http sends for forward.ts's request (the target's headers,
 * Host, Connection: keep-alive), with only Content-Length added per request.
 */

import { poolFor, type UpstreamPool } from "./upstream-pool.js";
import type { UpstreamTarget } from "./upstream-types.js";

export interface UpstreamWire {
  pool: UpstreamPool;
  /** `POST … HTTP/1.1` through `Content-Length: `; the length and the blank line follow per request. */
  head: Buffer;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Framing node:http would take from the caller's headers; a target setting them keeps node's client. */
const FRAMING = new Set(["host", "connection", "content-length", "transfer-encoding", "expect"]);

const wires = new WeakMap<UpstreamTarget, UpstreamWire | null>();

/** The target's wire, or undefined for one the lean client does not speak (https, unusual headers). */
export function wireOf(target: UpstreamTarget): UpstreamWire | undefined {
  const cached = wires.get(target);
  if (cached !== undefined) return cached ?? undefined;
  const built = build(target);
  wires.set(target, built ?? null);
  return built;
}

function build(target: UpstreamTarget): UpstreamWire | undefined {
  if (target.https || !target.path.startsWith("/") || /[\s]/.test(target.path)) return undefined;
  const lines = [`POST ${target.path} HTTP/1.1`];
  for (const [name, value] of Object.entries(target.headers)) {
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) return undefined;
    if (FRAMING.has(name.toLowerCase())) return undefined;
    lines.push(`${name}: ${value}`);
  }
  // node:http's Host: the port unless it is the default one, an IPv6 address in brackets.
  const host = target.hostname.includes(":") ? `[${target.hostname}]` : target.hostname;
  lines.push(`Host: ${target.port === 80 ? host : `${host}:${target.port}`}`, "Connection: keep-alive");
  return {
    pool: poolFor(target.hostname, target.port),
    head: Buffer.from(`${lines.join("\r\n")}\r\nContent-Length: `, "latin1"),
  };
}

/** Bodies up to this size leave in the head's packet (one copy); larger ones follow it in one writev. */
const ONE_WRITE_MAX = 64 * 1024;
const END_OF_HEAD = "\r\n\r\n";

/** Writes one request: the head, its length, the body; one write when the body is small. */
export function writeRequest(socket: import("node:net").Socket, wire: UpstreamWire, body: Buffer): void {
  const length = String(body.length);
  if (body.length <= ONE_WRITE_MAX) {
    const tail = length.length + END_OF_HEAD.length;
    const bytes = Buffer.allocUnsafe(wire.head.length + tail + body.length);
    wire.head.copy(bytes, 0);
    bytes.write(length + END_OF_HEAD, wire.head.length, "latin1");
    body.copy(bytes, wire.head.length + tail);
    socket.write(bytes);
    return;
  }
  socket.cork();
  socket.write(Buffer.concat([wire.head, Buffer.from(length + END_OF_HEAD, "latin1")]));
  socket.write(body);
  socket.uncork();
}
