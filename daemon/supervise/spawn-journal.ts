/**
 * The restart budget's write-ahead record: before every spawn (and whenever the desired state or the
 * resets change) one runtime's budget and desired state go to `<state>/spawned/<id>.{a,b}.json`,
 * synchronously, in the page cache before the fork. A daemon SIGKILLed a moment after a spawn (its
 * state.json write still in flight, fsync pending) can then never lose that spawn: the next daemon merges
 * this record into the one from state.json. The fsync'd state.json write overlaps the spawn and covers
 * the machine crash, which also ends the child, so no spawn outlives a record lost with the page cache.
 *
 * Two slots, written in turn in place (open, one write at offset 0, close: ~10 µs), instead of a temp
 * file renamed over the record: on ext4 a rename that replaces a file starts the new file's writeback
 * (auto_da_alloc), ~0.2–0.5 ms on the respawn path. Each record is one line with its sequence number and
 * a CRC-32 of it, so a torn write (the daemon killed inside it) reads as invalid and the other slot's
 * record is the newest valid one. A torn record is harmless: it is written before its fork, so a daemon
 * killed inside the write never forked that spawn, and the other slot holds everything before it.
 */
import { closeSync, constants, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { crc32 } from "../../base/crc32.js";
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

/** Create 0600 if absent, write in place; never through a symlink planted at the slot's name (ELOOP). */
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW;

/** The two slots of one runtime's record. */
export function journalFiles(stateDir: string, runtime: string): readonly [string, string] {
  const base = path.join(stateDir, "spawned", runtime);
  return [`${base}.a.json`, `${base}.b.json`];
}

/**
 * The single-file record of rmxd before the two slots (`<id>.json`, plain JSON, renamed into place): read
 * as older than any slot, so an upgrade right after a daemon was killed keeps its spawns, and removed once
 * a slot holds the record.
 */
export function legacyJournalFile(stateDir: string, runtime: string): string {
  return path.join(stateDir, "spawned", `${runtime}.json`);
}

/** The legacy record as a slot's, older than any slot's (a sequence number below every real one). */
function readLegacy(file: string): Slot {
  const text = readJournalText(file);
  if (typeof text !== "string") return text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: `${file} is not JSON; ignored` };
  }
  if (typeof value !== "object" || value === null) return { problem: `${file} is not an object; ignored` };
  return { seq: -1, value: value as Record<string, unknown> };
}

/** A journal file's text, or the slot it stands for when it cannot be read (undefined: no file). */
function readJournalText(file: string): string | Slot {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? undefined : { problem: `cannot read ${file} (${code})` };
  }
}

/** One line: the record's JSON (with its sequence number), a tab, its CRC-32 in hex. */
export function encodeRecord(seq: number, record: JournalRecord): string {
  const json = JSON.stringify({ seq, budget: dropReserved(record.budget), desired: record.desired });
  return `${json}\t${crc32(json).toString(16)}\n`;
}

type Slot = { seq: number; value: Record<string, unknown> } | { problem: string } | undefined;

/** A slot's record, or why it is unusable (undefined: no file). Text after the first line is ignored. */
function readSlot(file: string): Slot {
  const text = readJournalText(file);
  if (typeof text !== "string") return text;
  const end = text.indexOf("\n");
  const line = end < 0 ? "" : text.slice(0, end);
  const tab = line.lastIndexOf("\t");
  const json = line.slice(0, Math.max(0, tab));
  if (tab < 0 || crc32(json).toString(16) !== line.slice(tab + 1)) {
    return { problem: `${file} is torn or corrupt (its checksum does not match); ignored` };
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { problem: `${file} is not JSON; ignored` };
  }
  const raw = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof raw.seq !== "number" || !Number.isFinite(raw.seq)) {
    return { problem: `${file}: seq ${JSON.stringify(raw.seq)} is not a number; ignored` };
  }
  return { seq: raw.seq, value: raw };
}

/**
 * One runtime's write-ahead record (see the module comment). Not safe for two writers at once: a
 * runtime's record has one supervisor that keeps it at a time (a reload's candidate only once promoted).
 */
export class SpawnJournal {
  readonly files: readonly [string, string];
  readonly legacyFile: string;
  /** The slot the newest record is in (the next write goes to the other one) and its sequence number. */
  private newest: { slot: 0 | 1; seq: number } | undefined;
  /** A legacy record was read (or may be there): removed after the next slot write. */
  private legacySeen = true;

  constructor(stateDir: string, runtime: string) {
    this.files = journalFiles(stateDir, runtime);
    this.legacyFile = legacyJournalFile(stateDir, runtime);
  }

  /**
   * Reads the newest valid record of the two slots; no file is no record, a torn or malformed one is
   * reported and the other slot's record used. Where the next write goes follows from it.
   */
  read(now: number): JournalLoad {
    const problems: string[] = [];
    let best: { slot: 0 | 1; seq: number; value: Record<string, unknown> } | undefined;
    for (const slot of [0, 1] as const) {
      const read = readSlot(this.files[slot]);
      if (read === undefined) continue;
      if ("problem" in read) problems.push(read.problem);
      else if (best === undefined || read.seq > best.seq) best = { slot, ...read };
    }
    this.newest = best === undefined ? undefined : { slot: best.slot, seq: best.seq };
    const legacy = readLegacy(this.legacyFile);
    this.legacySeen = legacy !== undefined;
    let file = best === undefined ? this.legacyFile : this.files[best.slot];
    if (legacy !== undefined && "problem" in legacy) problems.push(legacy.problem);
    else if (legacy !== undefined && best === undefined) {
      best = { slot: 1, ...legacy }; // the next write goes to slot 0; `newest` stays unset
      file = this.legacyFile;
    }
    if (best === undefined) return { problems };
    const { desired } = best.value;
    if (desired !== "running" && desired !== "stopped") {
      problems.push(`${file}: desired ${JSON.stringify(desired)} is not "running" or "stopped"; ignored`);
      return { problems };
    }
    const loaded = sanitizeBudgetLog(best.value.budget, now);
    return {
      record: { budget: loaded.log, desired },
      problems: [...problems, ...loaded.dropped.map((why) => `${file}: dropped ${why}`)],
    };
  }

  /**
   * Writes the record synchronously into the slot not holding the newest one; no fsync (see the module
   * comment). `now` (epoch ms) orders records across daemons: the sequence number is at least it.
   * Throws the fs error; the caller logs it and goes on with state.json.
   */
  write(record: JournalRecord, now: number): void {
    const slot = this.newest?.slot === 0 ? 1 : 0;
    const seq = Math.max((this.newest?.seq ?? 0) + 1, Math.floor(now));
    const file = this.files[slot];
    let fd: number;
    try {
      fd = openSync(file, WRITE_FLAGS, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 }); // the first write in this state dir
      fd = openSync(file, WRITE_FLAGS, 0o600);
    }
    try {
      const line = Buffer.from(encodeRecord(seq, record), "utf8");
      // At offset 0: a longer record that was there before ends after our line, and is ignored.
      for (let done = 0; done < line.length; ) done += writeSync(fd, line, done, line.length - done, done);
    } finally {
      closeSync(fd);
    }
    this.newest = { slot, seq };
    if (this.legacySeen) {
      rmSync(this.legacyFile, { force: true }); // a slot holds the record now
      this.legacySeen = false;
    }
  }

  /** Both slots gone (state.json holds everything); the next record starts afresh. */
  remove(): void {
    for (const file of [...this.files, this.legacyFile]) rmSync(file, { force: true });
    this.newest = undefined;
    this.legacySeen = false;
  }
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
