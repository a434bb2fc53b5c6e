import { performance } from "node:perf_hooks";
import { createWordStream } from "./tokens.js";

export interface SlotState {
  id: number;
  nCtx: number;
  isProcessing: boolean;
  idTask: number;
  nPast: number;
  nDecoded: number;
  nRemain: number;
}

export interface GenerationRequest {
  /** Seeds the generated words. */
  prompt: string;
  promptTokens: number;
  maxTokens: number;
  /** No explicit limit was asked for: the stub "hits EOS" at `maxTokens` and reports `stop`. */
  stopAtEos: boolean;
}

export interface Timings {
  prompt_n: number;
  prompt_ms: number;
  prompt_per_token_ms: number;
  prompt_per_second: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_token_ms: number;
  predicted_per_second: number;
}

export interface GenerationResult {
  content: string;
  slotId: number;
  taskId: number;
  promptTokens: number;
  predictedTokens: number;
  finishReason: "stop" | "length";
  aborted: boolean;
  /** The prompt did not fit the slot and was cut, as b4748 does (`truncated: true`), instead of refused. */
  truncated: boolean;
  timings: Timings;
}

export interface GenerationHooks {
  /** A slot was taken: the request is no longer deferred. */
  onStart?: (slot: SlotState) => void;
  onPiece?: (piece: string, index: number) => void;
}

export class RequestAborted extends Error {
  constructor() {
    super("request aborted by the client");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  // A pace faster than the timer's 1 ms still yields to the event loop: resolving at once would chain
  // microtasks for the whole answer, starving I/O (nothing flushed, the answer piled up in memory).
  if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function rate(n: number, ms: number): { perToken: number; perSecond: number } {
  return n > 0 && ms > 0 ? { perToken: ms / n, perSecond: (1e3 * n) / ms } : { perToken: 0, perSecond: 0 };
}

/** Prompt processing is this many times faster than generation, as on real hardware. */
const PROMPT_SPEEDUP = 10;

interface Waiter {
  resolve: (slot: SlotState) => void;
}

/**
 * Slots, a queue for requests that find every slot busy (llama-server's "deferred"), paced token
 * generation, and the counters `/metrics` reports.
 */
export class InferenceEngine {
  readonly slots: SlotState[];
  readonly slotContext: number;
  private readonly waiters: Waiter[] = [];
  private nextTask = 0;
  private readonly totals = {
    promptTokens: 0,
    promptMs: 0,
    predictedTokens: 0,
    predictedMs: 0,
    decodes: 0,
    busySlotsOverDecodes: 0,
  };
  // llama-server's throughput gauges cover what happened since the previous scrape.
  private bucket = { promptTokens: 0, promptMs: 0, predictedTokens: 0, predictedMs: 0 };

  constructor(
    private readonly params: {
      slots: number;
      ctxSize: number;
      tokensPerSecond: number;
      log: (line: string) => void;
    },
  ) {
    this.slotContext = Math.max(1, Math.floor(params.ctxSize / params.slots));
    this.slots = Array.from({ length: params.slots }, (_, id) => ({
      id,
      nCtx: this.slotContext,
      isProcessing: false,
      idTask: -1,
      nPast: 0,
      nDecoded: 0,
      nRemain: -1,
    }));
  }

  get processing(): number {
    return this.slots.filter((slot) => slot.isProcessing).length;
  }

  get deferred(): number {
    return this.waiters.length;
  }

  private acquire(signal: AbortSignal): Promise<SlotState> {
    const free = this.slots.find((slot) => !slot.isProcessing);
    if (free !== undefined) {
      free.isProcessing = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (slot) => {
          signal.removeEventListener("abort", onAbort);
          resolve(slot);
        },
      };
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new RequestAborted());
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(slot: SlotState): void {
    const next = this.waiters.shift();
    if (next !== undefined) {
      next.resolve(slot); // handed over still marked as processing
      return;
    }
    slot.isProcessing = false;
    if (this.processing === 0) this.params.log("srv  update_slots: all slots are idle");
  }

  async generate(
    request: GenerationRequest,
    hooks: GenerationHooks,
    signal: AbortSignal,
  ): Promise<GenerationResult> {
    // b4748 keeps the first n_keep tokens and half of the rest: never more than half the slot.
    const truncated = request.promptTokens >= this.slotContext;
    if (truncated) request = { ...request, promptTokens: Math.max(1, Math.floor(this.slotContext / 2)) };
    if (signal.aborted) throw new RequestAborted();
    const slot = await this.acquire(signal);
    const taskId = this.nextTask++;
    const limit = Math.min(request.maxTokens, this.slotContext - request.promptTokens);
    slot.idTask = taskId;
    slot.nPast = 0;
    slot.nDecoded = 0;
    slot.nRemain = limit;
    this.params.log(`slot launch_slot_: id  ${slot.id} | task ${taskId} | processing task`);
    try {
      hooks.onStart?.(slot);
      const promptStart = performance.now();
      await sleep((request.promptTokens * 1e3) / (this.params.tokensPerSecond * PROMPT_SPEEDUP), signal);
      const promptMs = performance.now() - promptStart;
      slot.nPast = request.promptTokens;
      this.countDecode();
      this.totals.promptTokens += request.promptTokens;
      this.totals.promptMs += promptMs;
      this.bucket.promptTokens += request.promptTokens;
      this.bucket.promptMs += promptMs;

      const nextWord = createWordStream(request.prompt);
      const msPerToken = 1e3 / this.params.tokensPerSecond;
      const genStart = performance.now();
      let content = "";
      let n = 0;
      while (n < limit && !signal.aborted) {
        await sleep(genStart + (n + 1) * msPerToken - performance.now(), signal);
        if (signal.aborted) break;
        const piece = nextWord();
        content += piece;
        n++;
        slot.nPast++;
        slot.nDecoded = n;
        slot.nRemain = limit - n;
        this.countDecode();
        hooks.onPiece?.(piece, n - 1);
      }
      const predictedMs = n > 0 ? performance.now() - genStart : 0;
      this.totals.predictedTokens += n;
      this.totals.predictedMs += predictedMs;
      this.bucket.predictedTokens += n;
      this.bucket.predictedMs += predictedMs;
      this.params.log(
        `slot      release: id  ${slot.id} | task ${taskId} | stop processing: n_past = ${slot.nPast}, truncated = 0`,
      );

      const prompt = rate(request.promptTokens, promptMs);
      const predicted = rate(n, predictedMs);
      return {
        content,
        slotId: slot.id,
        taskId,
        promptTokens: request.promptTokens,
        predictedTokens: n,
        finishReason: request.stopAtEos && n === request.maxTokens ? "stop" : "length",
        aborted: signal.aborted,
        truncated,
        timings: {
          prompt_n: request.promptTokens,
          prompt_ms: promptMs,
          prompt_per_token_ms: prompt.perToken,
          prompt_per_second: prompt.perSecond,
          predicted_n: n,
          predicted_ms: predictedMs,
          predicted_per_token_ms: predicted.perToken,
          predicted_per_second: predicted.perSecond,
        },
      };
    } finally {
      this.release(slot);
    }
  }

  private countDecode(): void {
    this.totals.decodes++;
    this.totals.busySlotsOverDecodes += this.processing;
  }

  /** Prometheus text with llama-server's names, help and types; resets the throughput bucket like it does. */
  renderMetrics(): string {
    const t = this.totals;
    const b = this.bucket;
    const kvTokens = this.slots.reduce((sum, slot) => sum + slot.nPast, 0);
    const perSecond = (n: number, ms: number) => (n === 0 ? 0 : (1e3 * n) / ms); // n > 0 with 0 ms → inf
    const series: [string, string, "counter" | "gauge", number][] = [
      ["prompt_tokens_total", "Number of prompt tokens processed.", "counter", t.promptTokens],
      ["prompt_seconds_total", "Prompt process time", "counter", t.promptMs / 1e3],
      ["tokens_predicted_total", "Number of generation tokens processed.", "counter", t.predictedTokens],
      ["tokens_predicted_seconds_total", "Predict process time", "counter", t.predictedMs / 1e3],
      ["n_decode_total", "Total number of llama_decode() calls", "counter", t.decodes],
      [
        "n_busy_slots_per_decode",
        "Average number of busy slots per llama_decode() call",
        "counter",
        t.decodes === 0 ? 0 : t.busySlotsOverDecodes / t.decodes,
      ],
      [
        "prompt_tokens_seconds",
        "Average prompt throughput in tokens/s.",
        "gauge",
        perSecond(b.promptTokens, b.promptMs),
      ],
      [
        "predicted_tokens_seconds",
        "Average generation throughput in tokens/s.",
        "gauge",
        perSecond(b.predictedTokens, b.predictedMs),
      ],
      [
        "kv_cache_usage_ratio",
        "KV-cache usage. 1 means 100 percent usage.",
        "gauge",
        kvTokens / (this.slotContext * this.slots.length),
      ],
      ["kv_cache_tokens", "KV-cache tokens.", "gauge", kvTokens],
      ["requests_processing", "Number of requests processing.", "gauge", this.processing],
      ["requests_deferred", "Number of requests deferred.", "gauge", this.deferred],
    ];
    this.bucket = { promptTokens: 0, promptMs: 0, predictedTokens: 0, predictedMs: 0 };
    let text = "";
    for (const [name, help, type, value] of series) {
      text += `# HELP llamacpp:${name} ${help}\n# TYPE llamacpp:${name} ${type}\nllamacpp:${name} ${formatValue(value)}\n`;
    }
    return text;
  }
}

/** As a C++ stream prints doubles: `inf`, `-inf`, `nan` for the specials. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  return String(value);
}
