/** vLLM's /metrics text (V0 and V1 names, model_name labels, histograms, `_created` samples) → BackendMetrics. */
import { describe, expect, it } from "vitest";
import { parseVllmMetrics } from "../../adapters/vllm/metrics.js";

const V1 = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 2.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 0.25
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 1234.0
vllm:prompt_tokens_created{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 1.7e9
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 5678.0
vllm:iteration_tokens_total_bucket{engine="0",le="1.0",model_name="Qwen/Qwen2.5-0.5B"} 3.0
vllm:iteration_tokens_total_sum{engine="0",model_name="Qwen/Qwen2.5-0.5B"} 99.0
`;

const V0 = `vllm:num_requests_running{model_name="m"} 1.0
vllm:num_requests_waiting{model_name="m"} 0.0
vllm:gpu_cache_usage_perc{model_name="m"} 0.5
vllm:prompt_tokens_total{model_name="m"} 10.0
vllm:generation_tokens_total{model_name="m"} 20.0
`;

describe("parseVllmMetrics", () => {
  it("maps V1's names onto the fields the matrix reads", () => {
    expect(parseVllmMetrics(V1)).toEqual({
      requests_processing: 3,
      requests_deferred: 2,
      kv_cache_usage_ratio: 0.25,
      prompt_tokens_total: 1234,
      tokens_predicted_total: 5678,
    });
  });

  it("reads V0's gpu_cache_usage_perc when kv_cache_usage_perc is absent", () => {
    expect(parseVllmMetrics(V0)).toEqual({
      requests_processing: 1,
      requests_deferred: 0,
      kv_cache_usage_ratio: 0.5,
      prompt_tokens_total: 10,
      tokens_predicted_total: 20,
    });
  });

  it("leaves out what is missing or not finite", () => {
    expect(parseVllmMetrics('vllm:generation_tokens_total{model_name="m"} NaN\nother 1\n')).toEqual({});
  });
});
