import { RmxError } from "../../base/errors.js";
import type { ProbeOutcome } from "../types.js";
import { keyRefusal, refusesKey } from "./auth.js";
import type { HttpResult } from "./http.js";
import { liteGet, liteGetAs } from "./http-lite.js";

const EXCERPT_CHARS = 200;

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  if (flat === "") return "(empty body)";
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

/** llama-server's 503 while the model loads: `{"error":{"code":503,"message":"Loading model",…}}`. */
export function isLoadingBody(body: string): boolean {
  return /loading model/i.test(body);
}

/**
 * Classifies one exchange. `check` inspects a 2xx body and returns why it is not acceptable (an
 * inference probe that gets 200 without content is a failure), or undefined when it is.
 */
export function toProbeOutcome(
  result: HttpResult,
  what: string,
  check?: (body: string) => string | undefined,
): ProbeOutcome {
  if (result.kind !== "response") return { kind: result.kind, ms: result.ms, message: result.message };
  const { status, body, ms } = result;
  if (status >= 200 && status < 300) {
    const problem = check?.(body);
    return problem === undefined
      ? { kind: "ok", ms, status }
      : { kind: "error", ms, status, message: `${what}: ${problem}` };
  }
  if (status === 503 && isLoadingBody(body)) return { kind: "loading", ms, status, message: "Loading model" };
  if (refusesKey(status)) {
    return { kind: "auth", ms, status, message: `${keyRefusal(status)}: ${what}: ${excerpt(body)}` };
  }
  return { kind: "http_error", ms, status, message: `${what} answered HTTP ${status}: ${excerpt(body)}` };
}

export function probeGet(
  url: string,
  timeoutMs: number,
  headers?: Record<string, string>,
): Promise<ProbeOutcome> {
  // Probes and scrapes are the daemon's steady load: the keep-alive GET client on node:net (http-lite.ts).
  return liteGetAs(url, headers ? { timeoutMs, headers } : { timeoutMs }, probeOutcomeOf);
}

/** A probe's answer as its outcome; a 2xx needs no description: the common case builds none. */
function probeOutcomeOf(result: HttpResult, url: string): ProbeOutcome {
  return result.kind === "response" && result.status >= 200 && result.status < 300
    ? { kind: "ok", ms: result.ms, status: result.status }
    : toProbeOutcome(result, `GET ${url}`);
}

/** Parses a 2xx body as JSON and applies `accept` to it; returns the reason it is rejected. */
export function jsonCheck(
  accept: (value: unknown) => string | undefined,
): (body: string) => string | undefined {
  return (body) => {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return `answer is not JSON: ${excerpt(body)}`;
    }
    return accept(value);
  };
}

/**
 * GET of an optional endpoint (`/metrics`, `/slots`): its body, or undefined when the backend says it
 * does not serve it (404, 501). Any other failure throws: TIMEOUT, or BACKEND_FAILED.
 */
export async function getOptional(
  url: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<string | undefined> {
  const result = await liteGet(url, { timeoutMs, headers });
  if (result.kind === "timeout") {
    throw new RmxError("TIMEOUT", `GET ${url} did not answer within ${timeoutMs} ms`, { url });
  }
  if (result.kind !== "response") {
    throw new RmxError("BACKEND_FAILED", result.message, { url, reason: result.kind });
  }
  if (result.status === 404 || result.status === 501) return undefined;
  if (refusesKey(result.status)) {
    throw new RmxError(
      "BACKEND_FAILED",
      `${keyRefusal(result.status)}: GET ${url}: ${excerpt(result.body)}`,
      {
        url,
        status: result.status,
      },
    );
  }
  if (result.status < 200 || result.status >= 300) {
    throw new RmxError(
      "BACKEND_FAILED",
      `GET ${url} answered HTTP ${result.status}: ${excerpt(result.body)}`,
      {
        url,
        status: result.status,
      },
    );
  }
  return result.body;
}
