/**
 * The stub's "engine": it answers every prompt with words of one canned reply, one word per token, and counts
 * what it served the way vLLM's `/metrics` does (tokens are whitespace-separated words here).
 */

const REPLY = "Hello from the vLLM stub . This reply is one word per token , repeated as needed".split(" ");

export interface EngineCounters {
  promptTokens: number;
  generationTokens: number;
  running: number;
  waiting: number;
  requestsFinished: number;
}

export class StubEngine {
  readonly counters: EngineCounters = {
    promptTokens: 0,
    generationTokens: 0,
    running: 0,
    waiting: 0,
    requestsFinished: 0,
  };

  constructor(private readonly opts: { msPerToken: number; maxNumSeqs: number }) {}

  static countTokens(text: string): number {
    return text.split(/\s+/).filter((w) => w !== "").length;
  }

  /** KV-cache usage as vLLM reports it: a 0..1 fraction (running sequences over the sequence limit here). */
  kvCacheUsage(): number {
    return Math.min(1, this.counters.running / this.opts.maxNumSeqs);
  }

  /** Generates `maxTokens` tokens, handing each to `onToken` as it is produced; resolves the whole text. */
  async generate(
    promptTokens: number,
    maxTokens: number,
    onToken?: (piece: string) => void,
  ): Promise<string[]> {
    const c = this.counters;
    c.running++;
    c.promptTokens += promptTokens;
    const pieces: string[] = [];
    try {
      for (let i = 0; i < maxTokens; i++) {
        if (this.opts.msPerToken > 0) await new Promise((r) => setTimeout(r, this.opts.msPerToken));
        const piece = `${i === 0 ? "" : " "}${REPLY[i % REPLY.length]}`;
        pieces.push(piece);
        c.generationTokens++;
        onToken?.(piece);
      }
    } finally {
      c.running--;
      c.requestsFinished++;
    }
    return pieces;
  }

  /** vLLM's metric names (docs.vllm.ai Production Metrics; V1 names), labelled with the served model. */
  metricsText(modelName: string): string {
    const c = this.counters;
    const labels = `{engine="0",model_name=${JSON.stringify(modelName)}}`;
    const lines = [
      ["vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", c.running],
      ["vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", c.waiting],
      [
        "vllm:kv_cache_usage_perc",
        "gauge",
        "KV-cache usage. 1 means 100 percent usage.",
        this.kvCacheUsage(),
      ],
      ["vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", c.promptTokens],
      [
        "vllm:generation_tokens_total",
        "counter",
        "Number of generation tokens processed.",
        c.generationTokens,
      ],
    ] as const;
    const out: string[] = [];
    for (const [name, type, help, value] of lines) {
      out.push(
        `# HELP ${name} ${help}`,
        `# TYPE ${name} ${type}`,
        `${name}${labels} ${Number(value).toFixed(1)}`,
      );
    }
    return `${out.join("\n")}\n`;
  }
}
