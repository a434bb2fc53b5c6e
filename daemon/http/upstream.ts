/**
 * A runtime's upstream target per gateway route, built once per (spec, endpoint) and reused by every
 * request: the adapter's chat URL, the route's path on the same base, and the auth headers.
 */
import { getAdapter } from "../../adapters/registry.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { UpstreamTarget } from "./upstream-types.js";

const SUFFIX = {
  "/v1/chat/completions": "/chat/completions",
  "/v1/completions": "/completions",
  "/v1/embeddings": "/embeddings",
} as const;

export type UpstreamRoute = keyof typeof SUFFIX;

interface Entry {
  spec: RuntimeSpec;
  endpoint: string;
  targets: Map<UpstreamRoute, UpstreamTarget>;
}

function build(spec: RuntimeSpec, endpoint: string, route: UpstreamRoute): UpstreamTarget {
  const chat = getAdapter(spec.adapter).chatUrl(endpoint);
  const base = chat.endsWith("/chat/completions") ? chat.slice(0, -"/chat/completions".length) : chat;
  const url = new URL(base + SUFFIX[route]);
  const https = url.protocol === "https:";
  return {
    https,
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
    path: url.pathname + url.search,
    label: `POST ${url.origin}${url.pathname}`,
    headers: { ...getAdapter(spec.adapter).authHeaders(spec), "content-type": "application/json" },
  };
}

/** Targets by runtime; a runtime whose spec or endpoint changed (reload, restart on a new port) gets new ones. */
export class UpstreamTargets {
  private readonly byRuntime = new WeakMap<object, Entry>();

  get(
    rt: { readonly spec: RuntimeSpec; readonly endpoint: string | undefined },
    route: UpstreamRoute,
  ): UpstreamTarget | undefined {
    const endpoint = rt.endpoint;
    if (endpoint === undefined) return undefined;
    let entry = this.byRuntime.get(rt);
    if (entry === undefined || entry.spec !== rt.spec || entry.endpoint !== endpoint) {
      entry = { spec: rt.spec, endpoint, targets: new Map() };
      this.byRuntime.set(rt, entry);
    }
    let target = entry.targets.get(route);
    if (target === undefined) {
      target = build(rt.spec, endpoint, route);
      entry.targets.set(route, target);
    }
    return target;
  }
}
