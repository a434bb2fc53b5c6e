/**
 * What rmxd and its config loader (config/load-main.ts) say to each other: one request on the loader's
 * stdin, one answer on its stdout, both JSON. The resolved configuration is plain data (strings,
 * numbers, booleans, arrays, objects), so JSON carries it whole (test/config/load-apart.test.ts).
 */
import type { ErrorCode } from "../base/errors.js";
import type { DaemonConfig } from "../base/spec.js";
import type { ConfigLocation } from "./locate.js";

export interface LoaderRequest {
  location: ConfigLocation;
  home?: string;
}

export type LoaderAnswer =
  | { ok: true; config: DaemonConfig }
  | { ok: false; error: { code: ErrorCode; message: string; data?: Record<string, unknown> } };

const ORIGINS = new Set(["flag", "env", "xdg", "embedded"]);

/** The request, checked: the loader is a process anyone can start, so its input is not trusted. */
export function parseLoaderRequest(text: string): LoaderRequest {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null) throw new Error("the request is not a JSON object");
  const { location, home } = value as Record<string, unknown>;
  if (typeof location !== "object" || location === null) throw new Error("the request has no location");
  const { path, origin } = location as Record<string, unknown>;
  if (typeof origin !== "string" || !ORIGINS.has(origin))
    throw new Error("the location's origin is not known");
  if (path !== undefined && typeof path !== "string") throw new Error("the location's path is not a string");
  if (home !== undefined && typeof home !== "string") throw new Error("the request's home is not a string");
  return {
    location: { origin: origin as ConfigLocation["origin"], ...(path === undefined ? {} : { path }) },
    ...(home === undefined ? {} : { home }),
  };
}
