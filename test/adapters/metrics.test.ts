import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseLlamaMetrics, parsePrometheus, parsePrometheusValue } from "../../adapters/shared/metrics.js";

// As the February 2025 build prints it (excerpt), including `inf` for a zero-time bucket.
const OLDER_BUILD = `# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 120
# HELP llamacpp:prompt_seconds_total Prompt process time
# TYPE llamacpp:prompt_seconds_total counter
llamacpp:prompt_seconds_total 0.25
# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 64
# HELP llamacpp:tokens_predicted_seconds_total Predict process time
# TYPE llamacpp:tokens_predicted_seconds_total counter
llamacpp:tokens_predicted_seconds_total 1.5
# HELP llamacpp:n_decode_total Total number of llama_decode() calls
# TYPE llamacpp:n_decode_total counter
llamacpp:n_decode_total 66
# HELP llamacpp:n_busy_slots_per_decode Average number of busy slots per llama_decode() call
# TYPE llamacpp:n_busy_slots_per_decode counter
llamacpp:n_busy_slots_per_decode 1.25
# HELP llamacpp:prompt_tokens_seconds Average prompt throughput in tokens/s.
# TYPE llamacpp:prompt_tokens_seconds gauge
llamacpp:prompt_tokens_seconds inf
# HELP llamacpp:predicted_tokens_seconds Average generation throughput in tokens/s.
# TYPE llamacpp:predicted_tokens_seconds gauge
llamacpp:predicted_tokens_seconds 42.5
# HELP llamacpp:kv_cache_usage_ratio KV-cache usage. 1 means 100 percent usage.
# TYPE llamacpp:kv_cache_usage_ratio gauge
llamacpp:kv_cache_usage_ratio 0.046875
# HELP llamacpp:kv_cache_tokens KV-cache tokens.
# TYPE llamacpp:kv_cache_tokens gauge
llamacpp:kv_cache_tokens 192
# HELP llamacpp:requests_processing Number of requests processing.
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 1
# HELP llamacpp:requests_deferred Number of requests deferred.
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 2
`;

describe("parseLlamaMetrics", () => {
  it("reads every llama-server name of the older build and drops non-finite values", () => {
    expect(parseLlamaMetrics(OLDER_BUILD)).toEqual({
      prompt_tokens_total: 120,
      prompt_seconds_total: 0.25,
      tokens_predicted_total: 64,
      tokens_predicted_seconds_total: 1.5,
      n_decode_total: 66,
      n_busy_slots_per_decode: 1.25,
      predicted_tokens_seconds: 42.5,
      kv_cache_usage_ratio: 0.046875,
      kv_cache_tokens: 192,
      requests_processing: 1,
      requests_deferred: 2,
    });
  });

  it("reads the newer build's names and tolerates the missing kv-cache gauges", () => {
    const newer = [
      "llamacpp:prompt_tokens_total 10",
      "llamacpp:prompt_tokens_cached_total 4",
      "llamacpp:n_tokens_max 512",
      "llamacpp:spec_decode_accepted_total 0",
      "llamacpp:predicted_tokens_seconds nan",
    ].join("\n");
    expect(parseLlamaMetrics(newer)).toEqual({
      prompt_tokens_total: 10,
      prompt_tokens_cached_total: 4,
      n_tokens_max: 512,
    });
  });

  it("gives an empty object for text with no llama metrics", () => {
    expect(parseLlamaMetrics("")).toEqual({});
    expect(parseLlamaMetrics("<html>502 Bad Gateway</html>")).toEqual({});
  });
});

describe("parsePrometheus", () => {
  it("sums labelled samples of one name and ignores timestamps, comments and garbage", () => {
    const text = [
      "# HELP http_requests_total Requests.",
      "# TYPE http_requests_total counter",
      'http_requests_total{method="GET",code="200"} 3 1700000000000',
      'http_requests_total{method="POST",code="500"} 2',
      'http_requests_total{path="/a b}c",note="say \\"hi\\""} 5',
      "up 1\r",
      "this is not a sample",
      "{} 4",
      "broken{ 7",
      "novalue",
      "bad_value abc",
      "  indented 9  ",
    ].join("\n");
    const values = parsePrometheus(text);
    expect(Object.fromEntries(values)).toEqual({ http_requests_total: 10, up: 1, indented: 9 });
  });

  it("reads the special values in every spelling", () => {
    const text = "a inf\nb +Inf\nc -Inf\nd nan\ne NaN\nf 1e3\ng -0.5\nh .25\ni +2";
    const values = parsePrometheus(text);
    expect(values.get("a")).toBe(Number.POSITIVE_INFINITY);
    expect(values.get("b")).toBe(Number.POSITIVE_INFINITY);
    expect(values.get("c")).toBe(Number.NEGATIVE_INFINITY);
    expect(values.get("d")).toBeNaN();
    expect(values.get("e")).toBeNaN();
    expect(values.get("f")).toBe(1000);
    expect(values.get("g")).toBe(-0.5);
    expect(values.get("h")).toBe(0.25);
    expect(values.get("i")).toBe(2);
  });

  it("rejects values Number() would accept but Prometheus does not write", () => {
    for (const token of ["", "0x10", "1_000", "Infinityx", "1e", "--1"]) {
      expect(parsePrometheusValue(token), token).toBeUndefined();
    }
  });

  it("never throws, whatever the text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => {
        const values = parsePrometheus(text);
        expect(values).toBeInstanceOf(Map);
        parseLlamaMetrics(text);
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on near-miss exposition lines", () => {
    const fragment = fc.constantFrom(
      "llamacpp:kv_cache_tokens",
      "x",
      "{",
      "}",
      '"',
      "\\",
      "=",
      ",",
      " ",
      "\t",
      "#",
      "inf",
      "-Inf",
      "nan",
      "1e309",
      "-0",
      "3.5",
      "\n",
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 60 }), (parts) => {
        const values = parsePrometheus(parts.join(""));
        for (const name of values.keys()) expect(name).toMatch(/^[A-Za-z_:][A-Za-z0-9_:]*$/);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips generated samples, summing per name", () => {
    const name = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/);
    const labelValue = fc
      .string({ maxLength: 12 })
      .map((s) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n"));
    const labels = fc.array(fc.tuple(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/), labelValue), {
      maxLength: 3,
    });
    const value = fc.double({ noNaN: true, noDefaultInfinity: true });
    const sample = fc.record({ name, labels, value, timestamp: fc.option(fc.nat(), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 30 }), fc.boolean(), (samples, withComments) => {
        const lines: string[] = [];
        const expected = new Map<string, number>();
        for (const s of samples) {
          if (withComments) lines.push(`# HELP ${s.name} generated`, `# TYPE ${s.name} gauge`);
          const labelText =
            s.labels.length === 0 ? "" : `{${s.labels.map(([k, v]) => `${k}="${v}"`).join(",")}}`;
          lines.push(`${s.name}${labelText} ${s.value}${s.timestamp === undefined ? "" : ` ${s.timestamp}`}`);
          expected.set(s.name, (expected.get(s.name) ?? 0) + s.value);
        }
        expect(parsePrometheus(lines.join("\n"))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
