/**
 * Daemon-level problems: failures that belong to no runtime's state machine but mean the daemon is
 * not doing all it says (its state file or a log cannot be written). Shown in `runtime.status` as
 * `problems` and in `rmx runtime status`'s header; each clears itself when the write works again.
 */
import type { Clock } from "../base/clock.js";
import { rfc3339 } from "../base/clock.js";
import type { RmxError } from "../base/errors.js";
import type { DaemonProblem } from "../ipc/protocol/runtime.js";

export class ProblemBoard {
  private readonly entries = new Map<string, DaemonProblem>();

  constructor(
    private readonly clock: Clock,
    /** Told when the list changes, so cached status snapshots are rebuilt. */
    private readonly onChange: () => void = () => undefined,
  ) {}

  /** Sets (error) or clears (undefined) the problem under `key` (e.g. "state", "log:<id>"). */
  report(key: string, error: RmxError | Error | undefined): void {
    const before = this.entries.get(key);
    if (error === undefined) {
      if (before === undefined) return;
      this.entries.delete(key);
      this.onChange();
      return;
    }
    const code = (error as Partial<RmxError>).code ?? "INTERNAL";
    const p = (error as Partial<RmxError>).data?.path;
    const next: DaemonProblem = {
      code,
      message: error.message,
      ...(typeof p === "string" ? { path: p } : {}),
      since: before?.since ?? rfc3339(this.clock.now()),
    };
    if (before && before.message === next.message && before.code === next.code) return;
    this.entries.set(key, next);
    this.onChange();
  }

  /**
   * Current problems, oldest first. The RFC 3339 times compare as plain strings: localeCompare would load
   * ICU's collator and its data into the daemon for good, the first time two problems are listed.
   */
  list(): DaemonProblem[] {
    return [...this.entries.values()].sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0));
  }
}
