import type { FSWatcher } from "node:fs";
import { watch } from "node:fs";
import { stat } from "../../base/fs-async.js";

export interface DirWatcherOptions {
  dirs: readonly string[];
  /** Events are coalesced: onChange fires this long after the first event of a burst. */
  debounceMs: number;
  /** Which events matter; default all. `filename` is null when the platform does not say. */
  filter?: (dir: string, filename: string | null) => boolean;
  onChange: () => void;
  /** A directory could not be watched, went away or came back. */
  onNote?: (note: string) => void;
  /** How often absent directories are looked for again; default 2000 ms. */
  missingPollMs?: number;
}

/**
 * Watches directories (not recursively) with fs.watch. A burst of events becomes one onChange at most
 * `debounceMs` after its first event, so a file being written for minutes still triggers rescans. Absent
 * directories are polled for and watched once they appear; a watched directory that disappears is polled for.
 */
export class DirWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly missing = new Set<string>();
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly opts: DirWatcherOptions) {}

  get watching(): string[] {
    return [...this.watchers.keys()];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const dir of new Set(this.opts.dirs)) this.watchDir(dir, false);
    this.schedulePoll();
  }

  stop(): void {
    this.running = false;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.missing.clear();
    clearTimeout(this.debounce);
    clearTimeout(this.poll);
    this.debounce = undefined;
    this.poll = undefined;
  }

  private watchDir(dir: string, appeared: boolean): void {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, filename) => {
        const name = filename === null ? null : String(filename);
        if (this.opts.filter === undefined || this.opts.filter(dir, name)) this.changed();
      });
      watcher.on("error", (err) => this.lost(dir, err.message));
      this.watchers.set(dir, watcher);
      this.missing.delete(dir);
      if (appeared) {
        this.opts.onNote?.(`model dir ${dir} appeared; watching it`);
        this.changed();
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist" : `cannot be watched (${code ?? String(err)})`;
      if (!appeared) this.opts.onNote?.(`model dir ${dir} ${why}; it will be watched when it appears`);
      this.missing.add(dir);
    }
  }

  private lost(dir: string, why: string): void {
    this.watchers.get(dir)?.close();
    this.watchers.delete(dir);
    if (!this.running) return;
    this.missing.add(dir);
    this.opts.onNote?.(`model dir ${dir} is no longer watched (${why}); it will be watched when it appears`);
    this.changed();
    this.schedulePoll();
  }

  private changed(): void {
    if (!this.running || this.debounce !== undefined) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.checkWatched().finally(() => {
        if (this.running) this.opts.onChange();
      });
    }, this.opts.debounceMs);
  }

  /** fs.watch on Linux goes quiet when its directory is deleted; notice it here. */
  private async checkWatched(): Promise<void> {
    for (const dir of [...this.watchers.keys()]) {
      try {
        if (!(await stat(dir)).isDirectory()) this.lost(dir, "not a directory");
      } catch {
        this.lost(dir, "removed");
      }
    }
  }

  private schedulePoll(): void {
    if (!this.running || this.poll !== undefined || this.missing.size === 0) return;
    this.poll = setTimeout(() => {
      this.poll = undefined;
      void this.pollMissing();
    }, this.opts.missingPollMs ?? 2000);
    this.poll.unref();
  }

  private async pollMissing(): Promise<void> {
    for (const dir of [...this.missing]) {
      try {
        if ((await stat(dir)).isDirectory() && this.running) this.watchDir(dir, true);
      } catch {
        // Still absent.
      }
    }
    this.schedulePoll();
  }
}
