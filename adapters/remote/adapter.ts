import { RmxError } from "../../base/errors.js";
import { bearerHeaders } from "../shared/auth.js";
import { httpRequest } from "../shared/http.js";
import { jsonCheck, probeGet, toProbeOutcome } from "../shared/probe.js";
import type { Adapter } from "../types.js";

/** The OpenAI base of a URL: `http://h:p` and `http://h:p/v1/` both give `http://h:p/v1`. */
export function openAiBase(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return trimmed.endsWith("/v1") ? trimmed : `${trimmed}/v1`;
}

const remoteAuth = bearerHeaders;

const hasChoices = jsonCheck((value) =>
  Array.isArray((value as { choices?: unknown } | null)?.choices)
    ? undefined
    : "answer has no `choices` array",
);

/** An OpenAI-compatible endpoint somebody else runs: nothing to spawn, `/v1/models` as health. */
export const remoteAdapter: Adapter = {
  kind: "remote",
  spawns: false,
  // It speaks the OpenAI API: what it cannot serve it refuses itself (an embeddings refusal lets the next cell try).
  capabilities: ["chat", "completion", "embeddings"],
  modelFormat: "name",
  protocol: "openai",
  scrapesLoad: false,
  config: { requires: { url: "base URL of the endpoint" }, accepts: ["url", "api_key_env"] },
  binaryHint: () => undefined,
  endpoint: (spec) => spec.url?.replace(/\/+$/, ""),
  plan(spec) {
    throw new RmxError("CONFIG_INVALID", `runtime "${spec.id}": the remote adapter launches nothing`, {
      runtime: spec.id,
    });
  },
  probeHealth(endpoint, spec, timeoutMs) {
    return probeGet(`${openAiBase(endpoint)}/models`, timeoutMs, remoteAuth(spec));
  },
  async probeInference(endpoint, spec, timeoutMs) {
    const url = `${openAiBase(endpoint)}/chat/completions`;
    const body: Record<string, unknown> = {
      messages: [{ role: "user", content: spec.health.inference.prompt }],
      max_tokens: 1,
    };
    if (spec.model !== undefined) body.model = spec.model;
    const result = await httpRequest(url, { method: "POST", body, timeoutMs, headers: remoteAuth(spec) });
    return toProbeOutcome(result, `POST ${url}`, hasChoices);
  },
  // A remote service's metrics are not ours to scrape (and would need its credentials).
  async scrapeMetrics() {
    return undefined;
  },
  async scrapeSlots() {
    return undefined;
  },
  chatUrl(endpoint) {
    return `${openAiBase(endpoint)}/chat/completions`;
  },
  authHeaders(spec) {
    return remoteAuth(spec);
  },
};
