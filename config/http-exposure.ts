/** The one rule tying `http.listen` to `http.auth`: beyond loopback, requests must carry the token. */
import type { HttpSpec } from "../base/spec.js";
import { formatListen, isLoopbackBind } from "./http-listen.js";

/** Why this gateway setting is refused, or undefined. */
export function httpExposure(spec: Pick<HttpSpec, "listen" | "auth">): string | undefined {
  if (spec.listen === undefined || spec.auth !== "none" || isLoopbackBind(spec.listen.host)) return undefined;
  return `http.auth: none is allowed only on a loopback address, but http.listen is ${formatListen(spec.listen)}: anyone who can reach it could use every model; set http.auth: token (the default) or listen on 127.0.0.1`;
}
