/**
 * The checks before any route: the Host header (DNS rebinding), the Origin (cross-site requests, CORS
 * only for `http.cors_origins`), and the bearer token. Pure over the request's headers.
 */
import type http from "node:http";
import type { HttpSpec } from "../../base/spec.js";
import { hostAllowed, hostName } from "../../config/http-listen.js";
import { forbidden, type GatewayError, unauthorized } from "./answer.js";
import { bearerMatches } from "./token.js";

export interface GuardVerdict {
  error?: GatewayError;
  /** CORS headers for an allowed cross-origin request. */
  cors: Record<string, string>;
  /** An allowed preflight: answer 204 with `cors`. */
  preflight: boolean;
}

const ALLOW_HEADERS = "authorization, content-type, x-rmx-agent, x-rmx-project, x-rmx-mode";

function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === host.trim().toLowerCase();
  } catch {
    return false;
  }
}

export function guard(
  req: http.IncomingMessage,
  spec: Pick<HttpSpec, "allowed_hosts" | "cors_origins" | "auth">,
  token: string | undefined,
  open: boolean,
): GuardVerdict {
  const cors: Record<string, string> = {};
  const host = req.headers.host;
  if (!hostAllowed(host, spec.allowed_hosts)) {
    const name = host === undefined ? "(none)" : hostName(host).slice(0, 100);
    return {
      cors,
      preflight: false,
      error: forbidden(
        `Host ${name} is not served here: only loopback names and http.allowed_hosts are (DNS-rebinding guard)`,
        "host_not_allowed",
      ),
    };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "" && !sameOrigin(origin, host as string)) {
    if (!spec.cors_origins.includes(origin))
      return {
        cors,
        preflight: false,
        error: forbidden(
          `Origin ${origin.slice(0, 100)} may not call this gateway: add it to http.cors_origins to allow it`,
          "origin_not_allowed",
        ),
      };
    cors["access-control-allow-origin"] = origin;
    cors.vary = "Origin";
    cors["access-control-expose-headers"] = "x-rmx-cell";
    if (req.method === "OPTIONS") {
      cors["access-control-allow-methods"] = "GET, POST, OPTIONS";
      cors["access-control-allow-headers"] = ALLOW_HEADERS;
      cors["access-control-max-age"] = "600";
      return { cors, preflight: true };
    }
  }
  if (open || spec.auth === "none" || token === undefined) return { cors, preflight: false };
  if (!bearerMatches(req.headers.authorization, token)) {
    const why =
      req.headers.authorization === undefined ? "no Authorization header" : "the bearer token does not match";
    return {
      cors,
      preflight: false,
      error: unauthorized(`${why}: send Authorization: Bearer <token>; \`rmx http token\` prints it`),
    };
  }
  return { cors, preflight: false };
}
