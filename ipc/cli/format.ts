/**
 * Pure text formatting for the CLI: colours, local times, durations, state symbols, event summaries.
 * Nothing here reads the environment or the clock; callers pass what they know.
 */
import type { RestartBudgetView, RuntimeState } from "../protocol/runtime.js";

export interface Palette {
  readonly enabled: boolean;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const sgr =
  (open: number, close: number) =>
  (text: string): string =>
    `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string): string => text;

export function createPalette(enabled: boolean): Palette {
  if (!enabled) return { enabled, green: plain, yellow: plain, red: plain, dim: plain, bold: plain };
  return {
    enabled,
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    red: sgr(31, 39),
    dim: sgr(2, 22),
    bold: sgr(1, 22),
  };
}

/**
 * Colours only for a terminal, and never when the user said no: `--no-color`, or `NO_COLOR` set to
 * anything non-empty (https://no-color.org).
 */
export function colorEnabled(opts: {
  isTTY: boolean | undefined;
  noColorFlag: boolean;
  env: NodeJS.ProcessEnv;
}): boolean {
  if (opts.noColorFlag) return false;
  const noColor = opts.env.NO_COLOR;
  if (noColor !== undefined && noColor !== "") return false;
  return opts.isTTY === true;
}

export { formatLocalTime } from "../../base/clock.js";

/** `45s`, `3m12s`, `2h5m`, `3d4h`: two units at most, rounded down; negatives and NaN read `0s`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "0s";
  const total = Math.floor(seconds);
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (days > 0) return `${days}d${hours}h`;
  if (hours > 0) return `${hours}h${minutes}m`;
  if (minutes > 0) return `${minutes}m${secs}s`;
  return `${secs}s`;
}

export type StateTone = "good" | "warn" | "bad" | "quiet";

/** A symbol and a tone per state. The state word is always printed next to it: meaning never rests on these. */
export const STATE_MARKS: Readonly<Record<RuntimeState, { symbol: string; tone: StateTone }>> = {
  ready: { symbol: "✓", tone: "good" },
  starting: { symbol: "…", tone: "warn" },
  degraded: { symbol: "!", tone: "warn" },
  backoff: { symbol: "↻", tone: "warn" },
  exhausted: { symbol: "✗", tone: "bad" },
  failed: { symbol: "✗", tone: "bad" },
  stopping: { symbol: "…", tone: "quiet" },
  stopped: { symbol: "○", tone: "quiet" },
  idle: { symbol: "◌", tone: "quiet" },
};

export function stateMark(state: string): { symbol: string; tone: StateTone } {
  return (
    (STATE_MARKS as Record<string, { symbol: string; tone: StateTone }>)[state] ?? {
      symbol: "?",
      tone: "warn",
    }
  );
}

export function paintTone(palette: Palette, tone: StateTone, text: string): string {
  switch (tone) {
    case "good":
      return palette.green(text);
    case "warn":
      return palette.yellow(text);
    case "bad":
      return palette.red(text);
    case "quiet":
      return palette.dim(text);
  }
}

/** `3/3 used; resets at 12:09:41`, the why of a denial. */
export function budgetExhaustedDetail(
  budget: RestartBudgetView,
  formatTime: (iso: string) => string,
): string {
  const used = `${budget.used}/${budget.max_restarts} used`;
  return budget.reset_at === undefined ? used : `${used}; resets at ${formatTime(budget.reset_at)}`;
}

const SUMMARY_MAX = 120;

function summarizeValue(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
    case "number":
    case "boolean":
      return String(value);
    case "object":
      return Array.isArray(value) ? `[${value.length}]` : "{…}";
    default:
      return undefined;
  }
}

/**
 * One short line for an event payload: its top-level fields as `key=value`, nested values abbreviated,
 * cut at 120 characters.
 */
export function summarizePayload(payload: unknown): string {
  let text: string;
  if (payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
    text = Object.entries(payload)
      .flatMap(([key, value]) => {
        const shown = summarizeValue(value);
        return shown === undefined ? [] : [`${key}=${shown}`];
      })
      .join(" ");
  } else {
    text = summarizeValue(payload) ?? "";
  }
  return text.length > SUMMARY_MAX ? `${text.slice(0, SUMMARY_MAX - 1)}…` : text;
}

/** Left-aligns each column to its widest cell; the last column is not padded. */
export function alignColumns(rows: readonly (readonly string[])[], visibleLength = visibleWidth): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell)),
      )
      .join("  "),
  );
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Length as a terminal shows it: escapes take no room. */
export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, "")].length;
}

/** "2 of 3 restarts left, window 600s, resets 12:09:41"; the noun agrees with the maximum. */
export function budgetLine(view: RestartBudgetView, formatTime: (iso: string) => string): string {
  const noun = view.max_restarts === 1 ? "restart" : "restarts";
  const line = `${view.remaining} of ${view.max_restarts} ${noun} left, window ${view.window_seconds}s`;
  return view.reset_at === undefined ? line : `${line}, resets ${formatTime(view.reset_at)}`;
}
