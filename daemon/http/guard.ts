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
  cors: Readonly<Record<string, string>>;
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

/** No CORS headers: shared by every same-origin request (frozen: an answer adds its own headers on a copy). */
const NO_CORS: Readonly<Record<string, string>> = Object.freeze({});
/** The verdict of nearly every request (same origin or none, allowed): one object, not two per request. */
const PASS: GuardVerdict = Object.freeze({ cors: NO_CORS, preflight: false }) as GuardVerdict;

export function guard(
  req: http.IncomingMessage,
  spec: Pick<HttpSpec, "allowed_hosts" | "cors_origins" | "auth">,
  token: string | undefined,
  open: boolean,
): GuardVerdict {
  const host = req.headers.host;
  if (!hostAllowed(host, spec.allowed_hosts)) {
    const name = host === undefined ? "(none)" : hostName(host).slice(0, 100);
    return {
      cors: NO_CORS,
      preflight: false,
      error: forbidden(
        `Host ${name} is not served here: only loopback names and http.allowed_hosts are (DNS-rebinding guard)`,
        "host_not_allowed",
      ),
    };
  }
  let cors = NO_CORS;
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
    const allowed: Record<string, string> = {
      "access-control-allow-origin": origin,
      vary: "Origin",
      "access-control-expose-headers": "x-rmx-cell",
    };
    if (req.method === "OPTIONS") {
      allowed["access-control-allow-methods"] = "GET, POST, OPTIONS";
      allowed["access-control-allow-headers"] = ALLOW_HEADERS;
      allowed["access-control-max-age"] = "600";
      return { cors: allowed, preflight: true };
    }
    cors = allowed;
  }
  const pass = cors === NO_CORS ? PASS : { cors, preflight: false };
  if (open || spec.auth === "none" || token === undefined) return pass;
  if (!bearerMatches(req.headers.authorization, token)) {
    const why =
      req.headers.authorization === undefined ? "no Authorization header" : "the bearer token does not match";
    return {
      cors,
      preflight: false,
      error: unauthorized(`${why}: send Authorization: Bearer <token>; \`rmx http token\` prints it`),
    };
  }
  return pass;
}
