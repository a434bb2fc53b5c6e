/** The daemon's persisted state (one JSON file in the state dir, written atomically). */
import type { Lease, PinRecord } from "../ipc/protocol/policy.js";
import type { ChildRecord } from "./process/identity.js";
import { type BudgetLog, emptyBudgetLog } from "./supervise/budget.js";
import type { Desired } from "./supervise/state.js";

export const STATE_VERSION = 1;

export interface PersistedRuntime {
  /**
   * As read: checked entry by entry when the runtime's supervisor loads it (sanitizeBudgetLog), which
   * drops malformed and future attempts with a warning instead of discarding the whole state file.
   */
  budget: BudgetLog;
  desired: Desired;
  child?: ChildRecord;
}

export interface PersistedState {
  version: typeof STATE_VERSION;
  runtimes: Record<string, PersistedRuntime>;
  leases: Lease[];
  pins: PinRecord[];
}

/**
 * `runtimes` is keyed by runtime id, and ids such as `constructor` or `toString` are valid: the object has
 * no prototype when built here, and lookups go through `persistedRuntime` (structuredClone in the store
 * gives drafts a prototype again, so reads must not rely on its absence).
 */
export function emptyState(): PersistedState {
  return { version: STATE_VERSION, runtimes: Object.create(null), leases: [], pins: [] };
}

/** The record persisted for runtime `id`, never an Object.prototype member. */
export function persistedRuntime(state: PersistedState, id: string): PersistedRuntime | undefined {
  return Object.hasOwn(state.runtimes, id) ? state.runtimes[id] : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function parseChild(v: unknown): ChildRecord | undefined {
  if (!isObject(v)) return undefined;
  const { runtime, pid, pgid, start_time, command, exe, tag } = v;
  if (typeof runtime !== "string" || typeof start_time !== "string" || typeof command !== "string")
    return undefined;
  if (!Number.isInteger(pid) || !Number.isInteger(pgid) || (pid as number) <= 1) return undefined;
  return {
    runtime,
    pid: pid as number,
    pgid: pgid as number,
    start_time,
    command,
    ...(typeof exe === "string" ? { exe } : {}),
    ...(typeof tag === "string" ? { tag } : {}),
  };
}

/** Validates what was read from disk; `undefined` means the file is corrupt (it is then moved aside). */
export function parsePersistedState(value: unknown): PersistedState | undefined {
  if (!isObject(value) || value.version !== STATE_VERSION || !isObject(value.runtimes)) return undefined;
  const runtimes: Record<string, PersistedRuntime> = Object.create(null);
  for (const [id, raw] of Object.entries(value.runtimes)) {
    if (!isObject(raw)) return undefined;
    if (raw.desired !== "running" && raw.desired !== "stopped") return undefined;
    const budget = raw.budget === undefined ? emptyBudgetLog() : (raw.budget as BudgetLog);
    const record: PersistedRuntime = { budget, desired: raw.desired };
    const child = raw.child === undefined ? undefined : parseChild(raw.child);
    if (child) record.child = child;
    runtimes[id] = record;
  }
  const leases = Array.isArray(value.leases) ? (value.leases as Lease[]) : [];
  const pins = Array.isArray(value.pins) ? (value.pins as PinRecord[]) : [];
  return { version: STATE_VERSION, runtimes, leases, pins };
}
