import type { Stats } from "node:fs";
import path from "node:path";
import type { GgufInfo } from "../../adapters/shared/gguf/reader.js";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import { rfc3339 } from "../../base/clock.js";
import { isRmxError } from "../../base/errors.js";
import { readdir, stat } from "../../base/fs-async.js";
import type { ModelSpec } from "../../base/spec.js";
import type { ModelCatalogChange, ModelEntry } from "../../ipc/protocol/models.js";
import { DirWatcher } from "./watch.js";

export interface ModelCatalogOptions {
  models: ModelSpec[];
  dirs: string[];
  onChange: (change: ModelCatalogChange) => void;
  /** At most 250 ms; default 150 ms. */
  debounceMs?: number;
  /** How often absent directories are looked for again; default 2000 ms. */
  missingDirPollMs?: number;
}

const MAX_DEBOUNCE_MS = 250;
const GGUF_SUFFIX = /\.gguf$/i;
/** Split models: only the first part is a model; llama.cpp finds the others. */
const SPLIT_PART = /-(\d{5})-of-\d{5}\.gguf$/i;

interface CachedHeader {
  size: number;
  mtimeMs: number;
  gguf?: GgufInfo;
  error?: string;
}

function isModelFile(name: string): boolean {
  if (!GGUF_SUFFIX.test(name)) return false;
  const part = SPLIT_PART.exec(name);
  return part === null || part[1] === "00001";
}

function sameEntry(a: ModelEntry, b: ModelEntry): boolean {
  return (
    a.path === b.path &&
    a.source === b.source &&
    a.size_bytes === b.size_bytes &&
    a.mtime === b.mtime &&
    a.error === b.error
  );
}

/**
 * The models axis: models named in the config plus every `.gguf` file in the model directories (id = file name
 * without `.gguf`). Directories are watched; adding, removing or changing a file calls onChange with the ids,
 * after a debounce. Headers are re-read only when a file's size or mtime changes.
 */
export class ModelCatalog {
  private entries = new Map<string, ModelEntry>();
  private readonly headers = new Map<string, CachedHeader>();
  private readonly watcher: DirWatcher;
  private readonly dirs: string[];
  private readonly configPaths: Set<string>;
  private scanning: Promise<ModelCatalogChange> | undefined;
  private queued: Promise<ModelCatalogChange> | undefined;
  private lastNotified: ModelCatalogChange | undefined;
  private started = false;
  private readonly noteList: string[] = [];

  constructor(private readonly opts: ModelCatalogOptions) {
    this.dirs = [...new Set(opts.dirs.map((dir) => path.resolve(dir)))];
    this.configPaths = new Set(opts.models.map((model) => path.resolve(model.path)));
    const configBasenames = new Set(opts.models.map((model) => path.basename(model.path)));
    const watched = new Set([
      ...this.dirs,
      ...opts.models.map((model) => path.dirname(path.resolve(model.path))),
    ]);
    this.watcher = new DirWatcher({
      dirs: [...watched],
      debounceMs: Math.min(opts.debounceMs ?? 150, MAX_DEBOUNCE_MS),
      filter: (dir, name) =>
        name === null || GGUF_SUFFIX.test(name) || configBasenames.has(name) || name === path.basename(dir),
      onChange: () => void this.rescanAndNotify(),
      onNote: (note) => this.note(note),
      ...(opts.missingDirPollMs !== undefined ? { missingPollMs: opts.missingDirPollMs } : {}),
    });
  }

  /** Problems that are not errors: missing directories, duplicate ids. */
  get notes(): readonly string[] {
    return this.noteList;
  }

  /** Scans once (no onChange for this first scan), then watches. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.rescan();
    this.watcher.start();
  }

  stop(): void {
    this.started = false;
    this.watcher.stop();
  }

  list(): ModelEntry[] {
    return [...this.entries.values()];
  }

  /** By id, else by path (resolved). */
  get(idOrPath: string): ModelEntry | undefined {
    const byId = this.entries.get(idOrPath);
    if (byId !== undefined) return byId;
    const resolved = path.resolve(idOrPath);
    for (const entry of this.entries.values()) if (entry.path === resolved) return entry;
    return undefined;
  }

  /** Rescans now (serialised with any scan in flight) and returns what changed. */
  rescan(): Promise<ModelCatalogChange> {
    if (this.scanning !== undefined) {
      // One scan waits behind the one in flight; later callers share it.
      this.queued ??= this.scanning.then(() => {
        this.queued = undefined;
        return this.rescan();
      });
      return this.queued;
    }
    const run = this.scan().finally(() => {
      this.scanning = undefined;
    });
    this.scanning = run;
    return run;
  }

  private async rescanAndNotify(): Promise<void> {
    const change = await this.rescan();
    if (!this.started || change === this.lastNotified) return;
    this.lastNotified = change;
    if (change.added.length + change.removed.length + change.changed.length === 0) return;
    try {
      this.opts.onChange(change);
    } catch {
      // The listener's problem; the catalog stays consistent.
    }
  }

  private note(text: string): void {
    if (!this.noteList.includes(text)) this.noteList.push(text);
  }

  private async scan(): Promise<ModelCatalogChange> {
    const next = new Map<string, ModelEntry>();
    for (const model of this.opts.models) {
      next.set(model.id, await this.describe(model.id, path.resolve(model.path), "config"));
    }
    for (const dir of this.dirs) {
      let names: string[];
      try {
        names = (await readdir(dir)).filter(isModelFile).sort();
      } catch {
        continue; // The watcher notes absent directories.
      }
      for (const name of names) {
        const file = path.join(dir, name);
        if (this.configPaths.has(file)) continue;
        const id = name.replace(GGUF_SUFFIX, "");
        const existing = next.get(id);
        if (existing !== undefined) {
          this.note(`model ${file} not listed: id "${id}" is already ${existing.path}`);
          continue;
        }
        const entry = await this.describe(id, file, "dir");
        // Vanished between readdir and stat: it is simply not there.
        if (entry.error === undefined || entry.size_bytes !== undefined) next.set(id, entry);
      }
    }

    const change: ModelCatalogChange = { added: [], removed: [], changed: [] };
    for (const [id, entry] of next) {
      const before = this.entries.get(id);
      if (before === undefined) change.added.push(id);
      else if (!sameEntry(before, entry)) change.changed.push(id);
    }
    for (const id of this.entries.keys()) if (!next.has(id)) change.removed.push(id);
    this.entries = next;
    for (const file of this.headers.keys()) {
      if (![...next.values()].some((entry) => entry.path === file)) this.headers.delete(file);
    }
    return change;
  }

  private async describe(id: string, file: string, source: ModelEntry["source"]): Promise<ModelEntry> {
    const entry: ModelEntry = { id, path: file, source };
    let info: Stats;
    try {
      info = await stat(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      entry.error = code === "ENOENT" ? `model file ${file} does not exist` : `model file ${file}: ${code}`;
      return entry;
    }
    entry.size_bytes = info.size;
    entry.mtime = rfc3339(info.mtime.getTime());
    if (!info.isFile()) {
      entry.error = `model file ${file} is not a regular file`;
      return entry;
    }
    let cached = this.headers.get(file);
    if (cached === undefined || cached.size !== info.size || cached.mtimeMs !== info.mtimeMs) {
      cached = { size: info.size, mtimeMs: info.mtimeMs };
      try {
        cached.gguf = await readGguf(file);
      } catch (err) {
        cached.error = isRmxError(err) ? err.message : String(err);
      }
      this.headers.set(file, cached);
    }
    if (cached.gguf !== undefined) entry.gguf = cached.gguf;
    if (cached.error !== undefined) entry.error = cached.error;
    return entry;
  }
}
