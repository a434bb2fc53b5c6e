import type { Clock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import { readJsonWithQuarantine, writeFileAtomic } from "./atomic.js";

/** Told after every write: the error when it failed, undefined when the file is current again. */
export type WriteOutcome = (error: RmxError | undefined) => void;

/**
 * The daemon's durable state (budget logs, desired states, child records, leases, pins) in one JSON
 * file. Updates apply in memory at once; writes are atomic, one at a time, and every update that
 * arrives while a write is in flight is coalesced into the next single write.
 */
export class StateStore<T> {
  private value: T;
  /** The write that will include updates made now; not started yet. */
  private queued: Promise<void> | undefined;
  /** The write in progress (settled quietly, for chaining). */
  private inflight: Promise<void> = Promise.resolve();
  private writes = 0;
  /** The last write's failure; cleared by the next write that succeeds (it carries every update). */
  private lastError: RmxError | undefined;

  constructor(
    readonly path: string,
    private readonly parse: (value: unknown) => T | undefined,
    private readonly initial: () => T,
    private readonly opts: { clock?: Clock; mode?: number; onWrite?: WriteOutcome } = {},
  ) {
    this.value = initial();
  }

  /** Reads the file; a missing file starts from `initial()`, a corrupt one is quarantined and reported. */
  async load(): Promise<{ warning?: string; quarantinedTo?: string }> {
    const result = await readJsonWithQuarantine(
      this.path,
      this.parse,
      this.opts.clock === undefined ? {} : { clock: this.opts.clock },
    );
    this.value = result.value ?? this.initial();
    const { warning, quarantinedTo } = result;
    return {
      ...(warning === undefined ? {} : { warning }),
      ...(quarantinedTo === undefined ? {} : { quarantinedTo }),
    };
  }

  /** The current state. Treat as read-only: change it through `update`. */
  get(): T {
    return this.value;
  }

  /** Number of file writes so far (coalescing makes this at most the number of updates). */
  get writeCount(): number {
    return this.writes;
  }

  /**
   * Applies `mutator` to a copy and swaps it in (if it throws, nothing changes), then resolves once a
   * write containing this change is on disk.
   */
  update(mutator: (draft: T) => void): Promise<void> {
    let draft: T;
    try {
      draft = structuredClone(this.value);
      mutator(draft);
    } catch (error) {
      return Promise.reject(error);
    }
    this.value = draft;
    return this.scheduleWrite();
  }

  /** Resolves when every update made so far is on disk. */
  async flush(): Promise<void> {
    while (this.queued !== undefined) await this.queued.catch(() => undefined);
    await this.inflight;
  }

  /** The last write's failure, while the file on disk is behind the state in memory. */
  get writeError(): RmxError | undefined {
    return this.lastError;
  }

  /**
   * Resolves when every update made so far is on disk; rejects with the write failure when the newest
   * write failed (the state is then in memory only), so a command can say its effect was not persisted.
   */
  async committed(): Promise<void> {
    await this.flush();
    if (this.lastError !== undefined) throw this.lastError;
  }

  private settle(error: unknown): void {
    const failure =
      error === undefined
        ? undefined
        : error instanceof RmxError
          ? error
          : new RmxError("STATE_WRITE_FAILED", `cannot write ${this.path}: ${String(error)}`, {
              path: this.path,
            });
    const changed = failure !== this.lastError;
    this.lastError = failure;
    if (changed) this.opts.onWrite?.(failure);
  }

  private scheduleWrite(): Promise<void> {
    if (this.queued !== undefined) return this.queued;
    const queued = this.inflight.then(() => {
      this.queued = undefined;
      // Serialised when the write starts, so it carries every update made until now.
      const write = writeFileAtomic(this.path, `${JSON.stringify(this.value, null, 2)}\n`, this.opts.mode);
      this.writes++;
      this.inflight = write.then(
        () => this.settle(undefined),
        (error: unknown) => this.settle(error),
      );
      return write;
    });
    this.queued = queued;
    return queued;
  }
}
