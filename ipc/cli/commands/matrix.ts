/**
 * `rmx matrix [--list]`: one grid per capability group (models as rows, hardware/sandbox as columns, a short
 * state word and the group's rate per cell: tokens/s, × real time, inferences/s; then a legend with each
 * group's unit), or the same facts as one sentence per cell for screen readers.
 */
import type { Capability } from "../../../adapters/types.js";
import type { CellRequestTelemetry, MatrixCell, MatrixResult, Throughput } from "../../protocol/matrix.js";
import type { StatusCode } from "../../protocol/runtime.js";
import { booleanValue } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { formatLocalTime, type Palette, paintTone, type StateTone, visibleWidth } from "../format.js";

export const GRID_WIDTH = 80;
const MODEL_COLUMN_MAX = 24;
const GAP = "  ";

const WORDS: Record<StatusCode, { word: string; tone: StateTone }> = {
  ready: { word: "ready", tone: "good" },
  degraded: { word: "degr", tone: "warn" },
  starting: { word: "start", tone: "warn" },
  error: { word: "error", tone: "bad" },
  offline: { word: "off", tone: "quiet" },
};

/** Cells without a runtime: what a user could still do there. */
const NO_RUNTIME = { word: "--", tone: "quiet" } as const;
const NO_FIT = { word: "nofit", tone: "warn" } as const;
const UNAVAILABLE = { word: "n/a", tone: "quiet" } as const;

/** Sandbox names as column headers; the legend spells out the short ones. */
const SANDBOX_HEADER: Record<string, string> = { none: "none", bwrap: "bwrap", "systemd-run": "systemd" };

export const LEGEND = [
  "Legend: ready, degr(aded), start(ing), error, off: best state of the cell's",
  "  runtimes, then its rate in the grid's unit. --: no runtime; nofit: no runtime",
  "  and the model does not fit; n/a: sandbox or hardware unavailable here.",
  "  systemd = systemd-run. `rmx matrix --list` says the same in sentences.",
];

/**
 * One grid per group, in this order, each with its own rate: text generation in generated tokens/s,
 * transcription in audio seconds per second of wall time (`12x` = twelve times real time), infer in
 * inferences/s. Cells whose capabilities are not known get a last grid without a rate.
 */
export interface CapabilityGroup {
  title: string;
  capabilities: readonly Capability[];
  /** The legend's unit line. */
  unit?: string;
  rate(t: Throughput): number | undefined;
  rateText(rate: number): string;
  /** The --list sentence's rate: "12.3 audio seconds per second, 12.3 times real time". */
  rateSentence(t: Throughput): string | undefined;
}

export const CAPABILITY_GROUPS: readonly CapabilityGroup[] = [
  {
    title: "chat · completion · embeddings",
    capabilities: ["chat", "completion", "embeddings"],
    unit: "generated tokens/s",
    rate: (t) => t.generated_tokens_per_second,
    rateText: formatRate,
    rateSentence: (t) => {
      const rates: string[] = [];
      if (t.generated_tokens_per_second !== undefined)
        rates.push(`${t.generated_tokens_per_second} generated`);
      if (t.prompt_tokens_per_second !== undefined) rates.push(`${t.prompt_tokens_per_second} prompt`);
      return rates.length > 0 ? `${rates.join(" and ")} tokens per second` : undefined;
    },
  },
  {
    title: "transcription",
    capabilities: ["transcription"],
    unit: "audio seconds per second (12x: 12 times real time)",
    rate: (t) => t.audio_seconds_per_second,
    rateText: (rate) => `${formatRate(rate)}x`,
    rateSentence: (t) =>
      t.audio_seconds_per_second === undefined
        ? undefined
        : `${t.audio_seconds_per_second} audio seconds transcribed per second, ${t.audio_seconds_per_second} times real time`,
  },
  {
    title: "infer",
    capabilities: ["infer"],
    unit: "inferences/s",
    rate: (t) => t.inferences_per_second,
    rateText: formatRate,
    rateSentence: (t) =>
      t.inferences_per_second === undefined ? undefined : `${t.inferences_per_second} inferences per second`,
  },
];

const UNKNOWN_GROUP: CapabilityGroup = {
  title: "capabilities not known (no runtime names the model)",
  capabilities: [],
  rate: () => undefined,
  rateText: formatRate,
  rateSentence: () => undefined,
};

/** The groups a cell is drawn in: those sharing one of its capabilities, or the unknown group. */
export function groupsOf(cell: MatrixCell): CapabilityGroup[] {
  const caps = cell.capabilities ?? [];
  const groups = CAPABILITY_GROUPS.filter((g) => g.capabilities.some((c) => caps.includes(c)));
  return groups.length > 0 ? groups : [UNKNOWN_GROUP];
}

/** The unit lines of the legend, for the groups drawn. */
export function unitLegend(groups: readonly CapabilityGroup[]): string[] {
  const units = groups.filter((g) => g.unit !== undefined).map((g) => `${g.title} = ${g.unit}`);
  return units.map((u, i) => `${i === 0 ? "Units: " : "  "}${u}${i === units.length - 1 ? "." : ";"}`);
}

/** 0.4 → "0.4", 42.3 → "42", 1234 → "1.2k": at most four characters. */
export function formatRate(rate: number): string {
  if (rate < 10) return rate.toFixed(1).replace(/\.0$/, "");
  if (rate < 1000) return String(Math.round(rate));
  if (rate < 9950) return `${(rate / 1000).toFixed(1)}k`;
  return `${Math.round(rate / 1000)}k`;
}

/** The cell's word and rate in `group`'s unit (default: its first group). */
export function cellWord(
  cell: MatrixCell,
  group: CapabilityGroup = groupsOf(cell)[0] as CapabilityGroup,
): { text: string; word: string; tone: StateTone } {
  if (cell.runtimes.length === 0) {
    const mark = !cell.available ? UNAVAILABLE : cell.fit.fits === false ? NO_FIT : NO_RUNTIME;
    return { text: mark.word, word: mark.word, tone: mark.tone };
  }
  const { word, tone } = WORDS[cell.status.code];
  const rate = group.rate(cell.throughput);
  return { text: rate === undefined ? word : `${word} ${group.rateText(rate)}`, word, tone };
}

/** Milliseconds in at most five characters: 0.4ms, 38ms, 1.2s, 42s. */
function msText(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1).replace(/\.0$/, "")}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 1000)}s`;
}

/** `req 1.2k err 0.4% p95 38ms ttft 12ms`, then `slow` when the p95 is over the slow-route threshold. */
export function requestsText(t: CellRequestTelemetry): string {
  const parts = [`req ${formatRate(t.total)}`, `err ${Math.round(t.error_rate * 1000) / 10}%`];
  if (t.p95_ms !== undefined) parts.push(`p95 ${msText(t.p95_ms)}`);
  if (t.ttft_p50_ms !== undefined) parts.push(`ttft ${msText(t.ttft_p50_ms)}`);
  if (t.slow === true) parts.push("slow");
  return parts.join(" ");
}

function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - visibleWidth(text)));
}

interface Column {
  hardware: string;
  sandbox: string;
  width: number;
}

/**
 * The grid, one per capability group with cells, each split into blocks of columns so that no line is wider
 * than `width` (each block repeats the model column). Colours only tint the state word; the words carry the
 * meaning.
 */
export function renderMatrixGrid(
  result: MatrixResult,
  opts: { palette: Palette; width?: number; formatTime?: (iso: string) => string },
): string[] {
  const width = Math.max(40, opts.width ?? GRID_WIDTH);
  const formatTime = opts.formatTime ?? formatLocalTime;
  const serving = result.cells.filter((c) => c.runtimes.length > 0);
  const ready = serving.filter((c) => c.status.code === "ready").length;
  const { models, hardware, sandboxes } = result.axes;
  const lines = [
    `Runtime matrix (updated ${formatTime(result.generated)}): ${models.length} model(s), ` +
      `${hardware.length} hardware, ${sandboxes.length} sandbox kind(s)`,
    `${serving.length} cell(s) with a runtime, ${ready} ready; ${result.cells.length} cells in all`,
  ];
  if (models.length === 0) return [...lines, "", "No models: add models or model_dirs to the configuration."];

  const drawn: CapabilityGroup[] = [];
  for (const group of [...CAPABILITY_GROUPS, UNKNOWN_GROUP]) {
    const cells = result.cells.filter((c) => groupsOf(c).includes(group));
    if (cells.length === 0) continue;
    drawn.push(group);
    lines.push("", `${group.title}:`);
    lines.push(...groupGrid(result, cells, group, width, opts.palette));
  }
  const routed = result.cells.filter((c) => c.requests !== undefined);
  if (routed.length > 0) {
    const keyWidth = Math.max(...routed.map((c) => visibleWidth(c.key)));
    lines.push("", "Requests routed (p95 and time to first token p50 over the last 5 min):");
    for (const c of routed) {
      const t = c.requests as CellRequestTelemetry;
      const text = requestsText(t);
      lines.push(
        `  ${pad(c.key, keyWidth)}${GAP}${t.slow === true ? paintTone(opts.palette, "warn", text) : text}`,
      );
    }
  }
  lines.push("", ...LEGEND, ...unitLegend(drawn));
  return lines;
}

/** One group's grid: the models with a cell in the group as rows, every hardware/sandbox as columns. */
function groupGrid(
  result: MatrixResult,
  cells: readonly MatrixCell[],
  group: CapabilityGroup,
  width: number,
  palette: Palette,
): string[] {
  const lines: string[] = [];
  const byKey = new Map(cells.map((c) => [c.key, c]));
  const { hardware, sandboxes } = result.axes;
  const inGroup = new Set(cells.map((c) => c.model));
  const models = result.axes.models.filter((m) => inGroup.has(m));
  const columns: Column[] = [];
  const cellAt = (model: string, column: Column): MatrixCell | undefined =>
    byKey.get(
      column.hardware === "remote" ? `remote:${model}` : `${model}@${column.hardware}/${column.sandbox}`,
    );
  for (const hw of hardware) {
    const kinds = hw === "remote" ? ["none"] : sandboxes;
    for (const sandbox of kinds) {
      const column: Column = { hardware: hw, sandbox, width: 0 };
      const header = hw === "remote" ? "-" : (SANDBOX_HEADER[sandbox] ?? sandbox);
      column.width = Math.max(visibleWidth(hw), visibleWidth(header));
      for (const model of models) {
        const cell = cellAt(model, column);
        if (cell !== undefined)
          column.width = Math.max(column.width, visibleWidth(cellWord(cell, group).text));
      }
      column.width = Math.min(column.width, width - MODEL_COLUMN_MAX - GAP.length);
      columns.push(column);
    }
  }
  const modelWidth = Math.min(
    MODEL_COLUMN_MAX,
    Math.max(visibleWidth("model"), ...models.map((m) => visibleWidth(m))),
  );

  // Blocks of columns that fit the width next to the model column; a hardware's sandboxes stay together
  // when they fit in one block.
  const blocks: Column[][] = [];
  let block: Column[] = [];
  let used = modelWidth;
  const need = (cols: readonly Column[]) => cols.reduce((n, c) => n + GAP.length + c.width, 0);
  const flush = (): void => {
    if (block.length > 0) blocks.push(block);
    block = [];
    used = modelWidth;
  };
  for (const hw of hardware) {
    const group = columns.filter((c) => c.hardware === hw);
    if (used + need(group) > width && modelWidth + need(group) <= width) flush();
    for (const column of group) {
      if (block.length > 0 && used + need([column]) > width) flush();
      block.push(column);
      used += need([column]);
    }
  }
  if (block.length > 0) blocks.push(block);

  for (const [i, cols] of blocks.entries()) {
    if (i > 0) lines.push("");
    lines.push([pad("", modelWidth), ...cols.map((c) => pad(c.hardware, c.width))].join(GAP).trimEnd());
    lines.push(
      [
        pad("model", modelWidth),
        ...cols.map((c) =>
          pad(c.hardware === "remote" ? "-" : (SANDBOX_HEADER[c.sandbox] ?? c.sandbox), c.width),
        ),
      ]
        .join(GAP)
        .trimEnd(),
    );
    for (const model of models) {
      const parts = [pad(cut(model, modelWidth), modelWidth)];
      for (const column of cols) {
        const cell = cellAt(model, column);
        if (cell === undefined) {
          parts.push(pad("", column.width));
          continue;
        }
        const { text, word, tone } = cellWord(cell, group);
        const shown = cut(text, column.width);
        const painted = shown.startsWith(word)
          ? paintTone(palette, tone, word) + shown.slice(word.length)
          : shown;
        parts.push(pad(painted, column.width));
      }
      lines.push(parts.join(GAP).trimEnd());
    }
  }
  return lines;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function bytesText(bytes: number): string {
  const units: [number, string][] = [
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
    [1024, "KiB"],
  ];
  for (const [size, unit] of units) if (bytes >= size) return `${(bytes / size).toFixed(1)} ${unit}`;
  return `${bytes} bytes`;
}

/** "chat", "chat and completion", "chat, completion and embeddings". */
function wordList(words: readonly string[]): string {
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

/** One sentence per cell, no symbols or abbreviations: for screen readers and grep. */
export function cellSentence(cell: MatrixCell): string {
  const place =
    cell.hardware === "remote"
      ? `${cell.model} on a remote endpoint`
      : `${cell.model} on ${cell.hardware} in sandbox ${cell.sandbox}`;
  const parts: string[] = [];
  if (!cell.available) parts.push(`unavailable (${cell.unavailable_reason ?? "no reason given"})`);
  parts.push(cell.status.label);
  for (const group of groupsOf(cell)) {
    const rate = group.rateSentence(cell.throughput);
    if (rate !== undefined) parts.push(rate);
  }
  const l = cell.load;
  const load: string[] = [];
  if (l.slots_total !== undefined) load.push(`${l.slots_busy ?? 0} of ${plural(l.slots_total, "slot")} busy`);
  if (l.requests_processing !== undefined)
    load.push(`${plural(l.requests_processing, "request")} processing`);
  if (l.requests_deferred !== undefined && l.requests_deferred > 0)
    load.push(`${l.requests_deferred} deferred`);
  if (l.cpu_percent !== undefined) load.push(`CPU ${l.cpu_percent} percent`);
  if (l.rss_bytes !== undefined) load.push(`memory ${bytesText(l.rss_bytes)}`);
  if (l.gpu_util_percent !== undefined) load.push(`GPU ${l.gpu_util_percent} percent busy`);
  if (l.vram_share !== undefined) load.push(`VRAM ${Math.round(l.vram_share * 100)} percent used`);
  if (cell.runtimes.length > 0) load.push(`${l.leases_held} of ${plural(l.lease_capacity, "lease")} held`);
  if (load.length > 0) parts.push(load.join(", "));
  const fit = cell.fit.fits === true ? "fits" : cell.fit.fits === false ? "does not fit" : "fit unknown";
  parts.push(`${fit}: ${cell.fit.reason}`);
  const caps = cell.capabilities ?? [];
  // A cell without a runtime serves nothing yet; its capabilities say what a runtime there would serve.
  const verb = cell.runtimes.length > 0 ? "serves" : "would serve";
  parts.push(caps.length > 0 ? `${verb} ${wordList(caps)}` : "capabilities not known");
  if (cell.runtimes.length > 0) parts.push(`runtimes: ${cell.runtimes.join(", ")}`);
  const r = cell.requests;
  if (r !== undefined) {
    const req = [`${plural(r.total, "request")} routed, ${plural(r.errors, "error")}`];
    if (r.p95_ms !== undefined) req.push(`95th percentile ${Math.round(r.p95_ms)} milliseconds`);
    if (r.ttft_p50_ms !== undefined) req.push(`first token after ${Math.round(r.ttft_p50_ms)} milliseconds`);
    if (r.slow === true) req.push(`slow: ${r.slow_reason ?? "over the slow-route threshold"}`);
    parts.push(req.join(", "));
  }
  return `${place}: ${parts.join("; ")}.`;
}

export function renderMatrixList(result: MatrixResult, formatTime = formatLocalTime): string[] {
  const serving = result.cells.filter((c) => c.runtimes.length > 0).length;
  return [
    `Runtime matrix updated ${formatTime(result.generated)}: ${plural(result.cells.length, "cell")}, ` +
      `${serving} with a runtime.`,
    ...result.cells.map(cellSentence),
  ];
}

function terminalWidth(ctx: CliContext): number {
  const columns = ctx.isTTY ? process.stdout.columns : undefined;
  return columns !== undefined && columns > GRID_WIDTH ? columns : GRID_WIDTH;
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const client = await ctx.connect();
  try {
    const result = await client.call("matrix.get");
    if (ctx.json) {
      ctx.write(`${JSON.stringify(result, null, 2)}\n`);
      return ExitCode.OK;
    }
    const lines = booleanValue(args, "list")
      ? renderMatrixList(result)
      : renderMatrixGrid(result, { palette: ctx.palette, width: terminalWidth(ctx) });
    ctx.write(`${lines.join("\n")}\n`);
    return ExitCode.OK;
  } finally {
    await client.close();
  }
}
