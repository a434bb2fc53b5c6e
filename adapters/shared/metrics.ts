import type { LlamaMetrics } from "../types.js";

const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:]*/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A Prometheus sample value, including the spellings C++ streams and Go print for the specials. */
export function parsePrometheusValue(token: string): number | undefined {
  switch (token.toLowerCase()) {
    case "inf":
    case "+inf":
    case "infinity":
    case "+infinity":
      return Number.POSITIVE_INFINITY;
    case "-inf":
    case "-infinity":
      return Number.NEGATIVE_INFINITY;
    case "nan":
    case "+nan":
    case "-nan":
      return Number.NaN;
  }
  return DECIMAL.test(token) ? Number(token) : undefined;
}

/** Index just past the closing `}` of a label set opening at `start`, or -1 when it never closes. */
function skipLabels(line: string, start: number): number {
  let quoted = false;
  for (let i = start + 1; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "}") return i + 1;
  }
  return -1;
}

function parseSample(raw: string): [string, number] | undefined {
  const line = raw.trim();
  if (line === "" || line.startsWith("#")) return undefined;
  const name = METRIC_NAME.exec(line)?.[0];
  if (name === undefined) return undefined;
  let rest = name.length;
  if (line[rest] === "{") {
    rest = skipLabels(line, rest);
    if (rest < 0) return undefined;
  }
  const tail = line.slice(rest);
  if (!/^\s/.test(tail)) return undefined;
  const token = tail.trim().split(/\s+/)[0];
  if (token === undefined) return undefined;
  const value = parsePrometheusValue(token);
  return value === undefined ? undefined : [name, value];
}

/**
 * Prometheus text exposition → value per metric name. Labelled samples of one name are summed;
 * comments and lines that are not samples are skipped. Never throws.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const sample = parseSample(line);
    if (sample === undefined) continue;
    const [name, value] = sample;
    values.set(name, (values.get(name) ?? 0) + value);
  }
  return values;
}

const LLAMA_FIELDS = [
  "prompt_tokens_total",
  "prompt_seconds_total",
  "tokens_predicted_total",
  "tokens_predicted_seconds_total",
  "n_decode_total",
  "n_busy_slots_per_decode",
  "prompt_tokens_seconds",
  "predicted_tokens_seconds",
  "kv_cache_usage_ratio",
  "kv_cache_tokens",
  "requests_processing",
  "requests_deferred",
  "n_tokens_max",
  "prompt_tokens_cached_total",
] as const satisfies readonly (keyof LlamaMetrics)[];

/** llama-server's `llamacpp:*` metrics by name; missing or non-finite values are left out. */
export function parseLlamaMetrics(text: string): LlamaMetrics {
  const values = parsePrometheus(text);
  const metrics: LlamaMetrics = {};
  for (const field of LLAMA_FIELDS) {
    const value = values.get(`llamacpp:${field}`) ?? values.get(field);
    if (value !== undefined && Number.isFinite(value)) metrics[field] = value;
  }
  return metrics;
}
