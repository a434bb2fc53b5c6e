/**
 * The restart budget's write-ahead record: before every spawn (and whenever the desired state or the
 * resets change) one runtime's budget and desired state go to `<state>/spawned/<id>.json`, synchronously —
 * a temp file and a rename, in the page cache before the fork. A daemon SIGKILLed a moment after a spawn
 * (its state.json write still in flight, fsync pending) can then never lose that spawn: the next daemon
 * merges this record into the one from state.json. The fsync'd state.json write overlaps the spawn and covers
 * the machine crash, which also ends the child, so no spawn outlives a record lost with the page cache.
 */
import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { type BudgetLog, dropReserved, KEPT_RESETS, sanitizeBudgetLog } from "./budget.js";
import type { Desired } from "./state.js";

export interface JournalRecord {
  budget: BudgetLog;
  desired: Desired;
}

export interface JournalLoad {
  record?: JournalRecord;
  /** What was dropped or unreadable, for a warning. */
  problems: string[];
}

export function journalFile(stateDir: string, runtime: string): string {
  return path.join(stateDir, "spawned", `${runtime}.json`);
}

/**
 * Writes the record synchronously: a temp file created new (0600, links not followed) and renamed over.
 * No fsync (see the module comment). Throws the fs error; the caller logs it and goes on with state.json.
 */
export function writeJournal(file: string, record: JournalRecord): void {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const data = JSON.stringify({ budget: dropReserved(record.budget), desired: record.desired });
  rmSync(temp, { force: true });
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(temp, flags, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // the first write in this state dir
    fd = openSync(temp, flags, 0o600);
  }
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

/** Reads the record; a missing file is no record, a malformed one is reported and ignored. */
export function readJournal(file: string, now: number): JournalLoad {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? { problems: [] } : { problems: [`cannot read ${file} (${code})`] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problems: [`${file} is not JSON; ignored`] };
  }
  const raw = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (raw.desired !== "running" && raw.desired !== "stopped") {
    return {
      problems: [`${file}: desired ${JSON.stringify(raw.desired)} is not "running" or "stopped"; ignored`],
    };
  }
  const loaded = sanitizeBudgetLog(raw.budget, now);
  return {
    record: { budget: loaded.log, desired: raw.desired },
    problems: loaded.dropped.map((why) => `${file}: dropped ${why}`),
  };
}

export function removeJournal(file: string): void {
  rmSync(file, { force: true });
}

/**
 * The budget both records know of: every attempt either holds (a spawn either saw), except those before the
 * latest reset either holds (a reset clears what came before it); the exhaustion only state.json records.
 * Equal stamps are one attempt (both records carry the same `now` of the same spawn).
 */
export function mergeBudgets(state: BudgetLog, journal: BudgetLog): BudgetLog {
  const resets = [...new Set([...state.resets, ...journal.resets])].sort((a, b) => a - b).slice(-KEPT_RESETS);
  const lastReset = resets.at(-1) ?? Number.NEGATIVE_INFINITY;
  const attempts = [...new Set([...state.attempts, ...journal.attempts])]
    .filter((at) => at >= lastReset)
    .sort((a, b) => a - b);
  const merged: BudgetLog = { attempts, resets };
  if (state.exhausted_at !== undefined && state.exhausted_at >= lastReset)
    merged.exhausted_at = state.exhausted_at;
  return merged;
}
