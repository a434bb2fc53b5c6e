/**
 * The capability an OpenAI route asks of a cell, and the gateway's answer when the model the client named is
 * served here but none of its cells has that capability (a whisper model asked to chat, an ONNX graph asked
 * to embed): 400 `model_lacks_capability` naming the model, the capability, what its cells offer and which
 * models would serve the request. A client error, not 503: no retry makes a transcription model chat.
 */
import type { Capability } from "../../adapters/types.js";
import type { Candidate } from "../policy/resolve.js";
import { badRequest, type GatewayError } from "./answer.js";

export const ROUTE_CAPABILITY = {
  "/v1/chat/completions": "chat",
  "/v1/completions": "completion",
  "/v1/embeddings": "embeddings",
} as const satisfies Record<string, Capability>;

export function lacksCapability(
  candidates: readonly Candidate[],
  model: string,
  capability: Capability,
): GatewayError | undefined {
  const own = candidates.filter((c) => c.cell.model === model);
  if (own.length === 0 || own.some((c) => c.capabilities.includes(capability))) return undefined;
  const offers = [...new Set(own.flatMap((c) => c.capabilities))].sort().join(", ") || "nothing";
  const able = [
    ...new Set(candidates.filter((c) => c.capabilities.includes(capability)).map((c) => c.cell.model)),
  ].sort();
  return badRequest(
    `the model '${model}' cannot serve ${capability} (its cells offer ${offers}); models that serve ${capability}: ${able.join(", ") || "(none)"}`,
    "model_lacks_capability",
    "model",
  );
}
