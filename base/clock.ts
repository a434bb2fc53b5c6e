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

/** RFC 3339 UTC with milliseconds, as every event and JSON answer carries. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
