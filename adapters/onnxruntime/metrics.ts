/**
 * Triton's Prometheus metrics (rmxd's ONNX server writes the same names) as a backend's counters: successful
 * requests and the microseconds they took become `inference_requests_total` / `inference_busy_seconds_total`
 * (the matrix turns them into inferences per second), failures and the pending gauge ride along. Samples of
 * several models or versions are summed.
 */
import { parsePrometheus } from "../shared/metrics.js";
import type { BackendMetrics } from "../types.js";

export function parseTritonMetrics(text: string): BackendMetrics {
  const v = parsePrometheus(text);
  const out: BackendMetrics = {};
  const success = v.get("nv_inference_request_success");
  const failure = v.get("nv_inference_request_failure");
  const durationUs = v.get("nv_inference_request_duration_us");
  const pending = v.get("nv_inference_pending_request_count");
  if (success !== undefined) out.inference_requests_total = success;
  if (failure !== undefined) out.inference_failures_total = failure;
  if (durationUs !== undefined) out.inference_busy_seconds_total = durationUs / 1e6;
  if (pending !== undefined) out.requests_processing = pending;
  return out;
}
