/**
 * vLLM's `/metrics` (Prometheus text; docs.vllm.ai "Production Metrics") onto the fields the matrix reads
 * (llama-server's names), so throughput and load need no vLLM case. Every vLLM sample carries a `model_name`
 * label (and `engine` in V1); parsePrometheus sums the label sets of one name, which for one served model
 * is its value. V1 renamed `vllm:gpu_cache_usage_perc` to `vllm:kv_cache_usage_perc`; both are read.
 */
import { parsePrometheus } from "../shared/metrics.js";
import type { BackendMetrics } from "../types.js";

/** Matrix field ← vLLM metric names, first present wins. All are fractions or counts as the fields expect. */
const FIELDS: ReadonlyArray<[keyof BackendMetrics, readonly string[]]> = [
  ["tokens_predicted_total", ["vllm:generation_tokens_total"]],
  ["prompt_tokens_total", ["vllm:prompt_tokens_total"]],
  ["requests_processing", ["vllm:num_requests_running"]],
  ["requests_deferred", ["vllm:num_requests_waiting"]],
  // "GPU KV-cache usage. 1 means 100 percent usage": a 0..1 ratio despite the _perc suffix.
  ["kv_cache_usage_ratio", ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"]],
];

export function parseVllmMetrics(text: string): BackendMetrics {
  const values = parsePrometheus(text);
  const metrics: BackendMetrics = {};
  for (const [field, names] of FIELDS) {
    const value = names.map((name) => values.get(name)).find((v) => v !== undefined);
    if (value !== undefined && Number.isFinite(value)) metrics[field] = value;
  }
  return metrics;
}
