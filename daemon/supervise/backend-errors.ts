/**
 * The backend's own account of why it ended: the few error lines of its last run, picked from the log tail,
 * so a reason can say "error: invalid argument: --no-such-flag" instead of only "exit code 1". Pure.
 */

/** Error lines a reason or status carries. */
export const MAX_ERROR_LINES = 3;
/** Characters kept of one error line. */
export const MAX_ERROR_LINE_CHARS = 300;
/** Log lines searched, from the end (llama-server prints ~10 lines after the cause on a failed load). */
export const ERROR_SEARCH_LINES = 80;

/** The line our launcher writes before each spawn: the current run's output starts after it. */
const RUN_MARKER = "--- rmxd: starting ";
const OWN_LINE = "--- rmxd: ";

// Ranked: the cause ("error loading model: …", "invalid argument") over the consequence ("failed to load
// model") over the way out ("terminate called without an active exception", which b4748 prints on every exit).
const RANKS: readonly RegExp[] = [/error|invalid|not found/i, /fail/i, /abort|terminate/i];

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** Control characters and ANSI escapes stripped, tabs as spaces, trimmed, at most 300 characters. */
export function sanitizeLogLine(line: string): string {
  const clean = line.replace(ANSI, "").replace(/\t/g, " ").replace(CONTROL, "").trim();
  if (clean.length <= MAX_ERROR_LINE_CHARS) return clean;
  let end = MAX_ERROR_LINE_CHARS - 1;
  const code = clean.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--; // never split a surrogate pair
  return `${clean.slice(0, end)}…`;
}

function rankOf(line: string): number {
  const rank = RANKS.findIndex((re) => re.test(line));
  return rank === -1 ? RANKS.length : rank;
}

export interface BackendErrors {
  /** At most 3 lines, in log order. */
  lines: string[];
  /** The lines look like errors (else they are only the last lines, which may say nothing about the end). */
  matched: boolean;
}

/**
 * At most 3 lines of the last run (after the last spawn marker), in log order: the best-ranked lines that
 * look like errors (earliest first within a rank: the cause comes before its consequences), else the last
 * non-empty lines. Our own `--- rmxd:` lines are never picked.
 */
export function backendErrorLines(tail: readonly string[]): BackendErrors {
  const start = tail.findLastIndex((l) => l.startsWith(RUN_MARKER));
  const run = tail
    .slice(start + 1)
    .filter((l) => !l.startsWith(OWN_LINE))
    .map(sanitizeLogLine)
    .filter((l) => l !== "");
  const ranked = run
    .map((line, index) => ({ line, index, rank: rankOf(line) }))
    .filter((e) => e.rank < RANKS.length);
  if (ranked.length === 0) return { lines: run.slice(-MAX_ERROR_LINES), matched: false };
  const picked = [...ranked]
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .slice(0, MAX_ERROR_LINES)
    .sort((a, b) => a.index - b.index);
  return { lines: picked.map((e) => e.line), matched: true };
}

/** One line for a reason: the picked lines joined. */
export function errorsText(lines: readonly string[]): string {
  return lines.join(" / ");
}
