/**
 * The server's inference statistics in Triton's Prometheus names (its metrics guide), per model and version:
 * nv_inference_request_success / _failure (requests), nv_inference_count and nv_inference_exec_count (one
 * per request: the server does not batch), cumulative microsecond durations, and the pending gauge.
 */
export class InferCounters {
  success = 0;
  failure = 0;
  executions = 0;
  requestUs = 0;
  computeUs = 0;
  pending = 0;

  constructor(private readonly model: string) {}

  render(): string {
    const labels = `{model="${this.model}",version="1"}`;
    const line = (name: string, type: string, help: string, value: number) =>
      `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${labels} ${Math.round(value)}\n`;
    return [
      line(
        "nv_inference_request_success",
        "counter",
        "Number of successful inference requests, all batch sizes",
        this.success,
      ),
      line(
        "nv_inference_request_failure",
        "counter",
        "Number of failed inference requests, all batch sizes",
        this.failure,
      ),
      line(
        "nv_inference_count",
        "counter",
        "Number of inferences performed (does not include cached requests)",
        this.executions,
      ),
      line(
        "nv_inference_exec_count",
        "counter",
        "Number of model executions performed (does not include cached requests)",
        this.executions,
      ),
      line(
        "nv_inference_request_duration_us",
        "counter",
        "Cumulative inference request duration in microseconds (includes cached requests)",
        this.requestUs,
      ),
      line(
        "nv_inference_compute_infer_duration_us",
        "counter",
        "Cumulative compute inference duration in microseconds (does not include cached requests)",
        this.computeUs,
      ),
      line(
        "nv_inference_pending_request_count",
        "gauge",
        "Instantaneous number of pending requests awaiting execution per-model.",
        this.pending,
      ),
    ].join("");
  }
}
