/** Time source injected into every pure core so tests control time exactly. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to; for tests and property tests. */
export class ManualClock implements Clock {
  constructor(private current = 1_700_000_000_000) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}

const pad2 = (n: number): string => String(n).padStart(2, "0");

/**
 * RFC 3339 UTC with milliseconds, as every event and JSON answer carries: the text of `toISOString`,
 * built from the UTC fields. V8's `toISOString` (and `toUTCString`) read ICU's time zone data, 0.6 MiB
 * of the binary paged in for the process's life on Node 20 and 24 (resident pages of `icudt*_dat`);
 * `getUTC*` read none. An invalid time throws the same RangeError.
 */
export function rfc3339(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (Number.isNaN(year)) throw new RangeError("Invalid time value");
  const yyyy =
    year >= 0 && year <= 9999
      ? String(year).padStart(4, "0")
      : `${year < 0 ? "-" : "+"}${String(Math.abs(year)).padStart(6, "0")}`;
  return (
    `${yyyy}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}` +
    `T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}` +
    `.${String(date.getUTCMilliseconds()).padStart(3, "0")}Z`
  );
}

/**
 * `HH:MM:SS` in the local time zone (what `toLocaleTimeString("en-GB", { hour12: false })` prints, without
 * building an Intl formatter on each call: ~0.13 ms, and the respawn path's backoff view formats two); an
 * unparseable input is returned as it came. Used by the daemon's views and reasons and by the CLI.
 */
export function formatLocalTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}
