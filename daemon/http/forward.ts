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
import type { ForwardOutcome, ForwardRequest } from "./upstream-types.js";
import { wireOf } from "./upstream-wire.js";

export type { ForwardOutcome, ForwardRequest, UpstreamTarget } from "./upstream-types.js";

export function forward(
  client: http.ServerResponse,
  req: ForwardRequest,
  passStatus: (status: number) => boolean,
): Promise<ForwardOutcome> {
  const wire = wireOf(req.target);
  return wire === undefined ? forwardNode(client, req, passStatus) : exchange(client, req, wire, passStatus);
}
