/**
 * Counters and histograms kept as Prometheus text: each series renders its lines once per change and keeps
 * them, so a scrape joins cached strings instead of formatting every bucket of every series (prom-client's
 * `registry.metrics()` rebuilt ~2,000 lines per scrape for 50 runtimes). The text is what prom-client writes
 * for the same observations (test/http/metric-text.test.ts holds it to that); `inc` and `observe` take the
 * same label objects as prom-client's, so recording code reads the same.
 */

export type Labels = Readonly<Record<string, string>>;

/** The exposition format's label-value escaping: backslash, newline, double quote. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A number as the exposition format (and prom-client) writes it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "Nan";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/** `a="x",b="y"` in `names` order; a name missing from `labels` is written empty. */
function labelText(names: readonly string[], labels: Labels): string {
  let out = "";
  for (const name of names) {
    if (out !== "") out += ",";
    out += `${name}="${escapeLabel(labels[name] ?? "")}"`;
  }
  return out;
}

/** Key of one series: its label values in `names` order (a NUL cannot occur in a value we are given). */
function seriesKey(names: readonly string[], labels: Labels): string {
  let key = "";
  for (const name of names) key += `${labels[name] ?? ""}\u0000`;
  return key;
}

abstract class Family<S extends { text: string | undefined }> {
  protected readonly series = new Map<string, S>();
  private readonly header: string;

  constructor(
    readonly name: string,
    help: string,
    type: "counter" | "histogram",
    protected readonly labelNames: readonly string[],
  ) {
    this.header = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  }

  /**
   * The series of each frozen labels object seen: recording code passes one object per series, kept, so a
   * series is found without building its key (50 runtimes' probes take turns: one "last seen" would miss).
   */
  private readonly byLabels = new WeakMap<Labels, S>();

  protected seriesFor(labels: Labels): S {
    const known = this.byLabels.get(labels);
    if (known !== undefined) return known;
    const key = seriesKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = this.create(labelText(this.labelNames, labels));
      this.series.set(key, s);
    }
    // Only a frozen object can be trusted to name the same series next time.
    if (Object.isFrozen(labels)) this.byLabels.set(labels, s);
    return s;
  }

  protected abstract create(labels: string): S;
  protected abstract format(series: S): string;

  /** HELP, TYPE, then each series in first-seen order; only the series changed since the last call are re-formatted. */
  text(): string {
    let out = this.header;
    for (const s of this.series.values()) {
      s.text ??= this.format(s);
      out += s.text;
    }
    return out;
  }
}

interface CounterSeries {
  labels: string;
  value: number;
  text: string | undefined;
}

export class CounterText extends Family<CounterSeries> {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, "counter", labelNames);
  }

  inc(labels: Labels, by = 1): void {
    const s = this.seriesFor(labels);
    s.value += by;
    s.text = undefined;
  }

  protected create(labels: string): CounterSeries {
    return { labels, value: 0, text: undefined };
  }

  protected format(s: CounterSeries): string {
    return `${this.name}{${s.labels}} ${formatValue(s.value)}\n`;
  }
}

interface HistogramSeries {
  /** `name_bucket{le="0.005",labels} ` for each bound and +Inf, computed once (le first, as prom-client). */
  bucketPrefixes: readonly string[];
  tail: { sum: string; count: string };
  /** Observations per bucket, not cumulative (the last one is +Inf's own). */
  counts: number[];
  sum: number;
  count: number;
  text: string | undefined;
}

export class HistogramText extends Family<HistogramSeries> {
  private readonly upperBounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, "histogram", labelNames);
    this.upperBounds = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const s = this.seriesFor(labels);
    let i = 0;
    while (i < this.upperBounds.length && value > (this.upperBounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count += 1;
    s.text = undefined;
  }

  protected create(labels: string): HistogramSeries {
    const sep = labels === "" ? "" : ",";
    const le = [...this.upperBounds.map(formatValue), "+Inf"];
    return {
      bucketPrefixes: le.map((b) => `${this.name}_bucket{le="${b}"${sep}${labels}} `),
      tail: { sum: `${this.name}_sum{${labels}} `, count: `${this.name}_count{${labels}} ` },
      counts: le.map(() => 0),
      sum: 0,
      count: 0,
      text: undefined,
    };
  }

  protected format(s: HistogramSeries): string {
    let out = "";
    let cumulative = 0;
    for (let i = 0; i < s.bucketPrefixes.length; i++) {
      cumulative += s.counts[i] as number;
      out += `${s.bucketPrefixes[i]}${cumulative}\n`;
    }
    return `${out}${s.tail.sum}${formatValue(s.sum)}\n${s.tail.count}${s.count}\n`;
  }
}
