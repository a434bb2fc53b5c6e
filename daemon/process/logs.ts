import { closeSync, constants, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { RmxError } from "../../base/errors.js";
import type { FileHandle } from "../../base/fs-async.js";
import { mkdir, open, rename, unlink } from "../../base/fs-async.js";
import { errnoText } from "../../base/fs-errors.js";
import { bytesThatFit, TAIL_MAX_BYTES, tailLines } from "./log-bytes.js";

export { TAIL_MAX_BYTES, TAIL_MAX_LINE_BYTES, tailLines } from "./log-bytes.js";

/** Append, create 0600, and never through a symlink planted at the log's name (ELOOP instead). */
const APPEND_NOFOLLOW =
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Lines kept in memory for `lastLines` (failure reasons, status views). */
const RING_LINES = 200;
/** Longest line kept in the ring or given to followers; the rest of it is cut, the file keeps it whole. */
export const MAX_LINE_CHARS = 16 * 1024;
/** Above this much output waiting for the disk, `write` asks the source to pause (returns false). */
const HIGH_WATER_BYTES = 1024 * 1024;
/** Beyond this, output from a source that does not pause is dropped (and counted): memory stays bounded. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const TAIL_BLOCK = 64 * 1024;
const NEWLINE = 0x0a;
/**
 * Output is coalesced before it goes to the disk: one write per this window, or sooner once this many
 * bytes wait. A backend logs a line per request; a write (and its promise hops) per line cost more than
 * the proxying itself. `flush`, `tail` and `close` write at once, so readers never miss a line.
 */
export const WRITE_WINDOW_MS = 50;
export const WRITE_BATCH_BYTES = 64 * 1024;
/**
 * Output not yet split into lines while nobody follows: split lazily, when the ring is read or a
 * follower subscribes, and only the part the ring keeps. Past this much it is compacted (cut to the
 * bytes of the last ring-full of lines), so memory stays bounded.
 */
const UNSPLIT_MAX_BYTES = 1024 * 1024;

/**
 * A child's log: size-bounded files rotated `file → file.1 → … → file.(files-1)`, plus an in-memory
 * ring of recent lines and live followers.
 *
 * `write` never touches the disk itself: it queues the bytes, and one async writer drains the queue
 * (coalesced: WRITE_WINDOW_MS / WRITE_BATCH_BYTES). Lines are split synchronously for followers; while
 * nobody follows, the raw bytes wait and only the last RING_LINES lines of them are split when the ring
 * is read. Each file is cut at a line boundary when one fits and never exceeds `max_bytes`, so the
 * files on disk total at most `max_bytes * files`.
 */
export class RotatingLog {
  readonly path: string;
  private readonly maxBytes: number;
  private readonly files: number;

  private readonly ring: string[] = [];
  private ringStart = 0;
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  private partialCut = false;
  private readonly listeners = new Set<(line: string) => void>();
  /** Output not yet split into the ring (only while nobody follows). */
  private unsplit: Buffer[] = [];
  private unsplitBytes = 0;
  private unsplitNewlines = 0;
  private windowTimer: NodeJS.Timeout | undefined;
  /** A reader (flush, tail, close, a paused source) waits: write everything queued, not just one batch. */
  private urgent = false;

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dropped = 0;
  private droppedTotal = 0;
  private draining: Promise<void> | undefined;
  private handle: FileHandle | undefined;
  private size = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private failure: Error | undefined;
  private readonly diskListeners = new Set<(error: Error | undefined) => void>();

  constructor(file: string, opts: { max_bytes: number; files: number }) {
    if (!Number.isInteger(opts.max_bytes) || opts.max_bytes < 1) {
      throw new RangeError(`log max_bytes must be a positive integer, got ${opts.max_bytes}`);
    }
    if (!Number.isInteger(opts.files) || opts.files < 1) {
      throw new RangeError(`log files must be a positive integer, got ${opts.files}`);
    }
    this.path = file;
    this.maxBytes = opts.max_bytes;
    this.files = opts.files;
  }

  /** The disk error while writing fails (the ring and followers keep working); cleared by a good write. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Called when writing starts failing (with the error) and when it works again (undefined). */
  onDiskState(listener: (error: Error | undefined) => void): () => void {
    this.diskListeners.add(listener);
    return () => {
      this.diskListeners.delete(listener);
    };
  }

  private setFailure(error: Error | undefined): void {
    if (error === undefined && this.failure === undefined) return;
    this.failure = error;
    for (const listener of this.diskListeners) {
      try {
        listener(error);
      } catch {
        // An observer's failure must not break logging.
      }
    }
  }

  /**
   * Queues `chunk` for the disk and feeds the ring and followers. Returns false when the disk is behind:
   * a source that can pause (a child's pipe) should, until `flush()` resolves; one that does not is
   * not blocked, but past a hard cap its output is dropped and a marker line says how much.
   */
  write(chunk: Buffer | string): boolean {
    if (this.closed) return true;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    if (bytes.length === 0) return true;
    if (this.listeners.size > 0) this.splitLines(bytes);
    else this.deferLines(bytes);
    if (this.pendingBytes + bytes.length > MAX_PENDING_BYTES) {
      this.dropped += bytes.length;
      this.droppedTotal += bytes.length;
    } else {
      this.pending.push(bytes);
      this.pendingBytes += bytes.length;
    }
    this.scheduleDrain(this.pendingBytes >= WRITE_BATCH_BYTES);
    return this.pendingBytes < HIGH_WATER_BYTES;
  }

  /** Starts the writer now, or (`now` false) at the end of the coalescing window. */
  private scheduleDrain(now: boolean): void {
    if (this.draining !== undefined) return;
    if (!now) {
      if (this.windowTimer === undefined) {
        this.windowTimer = setTimeout(() => this.startDrain(), WRITE_WINDOW_MS);
        writeBeforeExit(this);
      }
      return;
    }
    this.startDrain();
  }

  /** `urgent`: someone waits for the disk (see drainBatches). */
  private startDrain(urgent = false): void {
    if (urgent && (this.draining !== undefined || this.pending.length > 0 || this.dropped > 0))
      this.urgent = true;
    if (this.windowTimer !== undefined) {
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
      waitingForWindow.delete(this);
    }
    if (this.draining === undefined && (this.pending.length > 0 || this.dropped > 0))
      this.draining = this.drain();
  }

  /** Bytes dropped so far because the source outran the disk and did not pause. */
  get droppedBytes(): number {
    return this.droppedTotal;
  }

  /** Newest last; at most the last 200 complete lines (a trailing partial line is not included). */
  lastLines(n = RING_LINES): string[] {
    this.splitDeferred();
    const ordered = this.ring.slice(this.ringStart).concat(this.ring.slice(0, this.ringStart));
    return n >= ordered.length ? ordered : ordered.slice(ordered.length - Math.max(0, n));
  }

  /** Last `n` lines from disk, across rotated files, newest last. Includes a trailing partial line. */
  async tail(n: number): Promise<string[]> {
    if (n <= 0) return [];
    await this.flush();
    return this.exclusive(() => this.readTail(n));
  }

  /** Live follow: called with every complete line from now on. Returns the unsubscribe function. */
  onLine(listener: (line: string) => void): () => void {
    // Lines written before this call are the ring's, not the new follower's.
    this.splitDeferred();
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async flush(): Promise<void> {
    this.startDrain(true);
    while (this.draining !== undefined) await this.draining;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.exclusive(async () => {
      const handle = this.handle;
      this.handle = undefined;
      await handle?.close();
    });
  }

  /**
   * For the process's `exit` (no async work runs any more): writes what waits for the coalescing window,
   * synchronously, with the same cuts and rotation. A batch already being written is left to its write:
   * appending after it out of order would be worse than losing it.
   */
  flushSync(): void {
    waitingForWindow.delete(this);
    if (this.draining !== undefined || (this.pending.length === 0 && this.dropped === 0)) return;
    const parts = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.dropped > 0) {
      parts.push(Buffer.from(`[rmx] dropped ${this.dropped} bytes of output: the log writer fell behind\n`));
      this.dropped = 0;
    }
    const batch = Buffer.concat(parts);
    let fd = this.handle?.fd;
    try {
      let offset = 0;
      while (offset < batch.length) {
        if (fd === undefined) {
          mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
          fd = openSync(this.path, APPEND_NOFOLLOW, 0o600);
          const st = fstatSync(fd);
          if (!st.isFile() || st.nlink > 1) return;
          this.size = st.size;
        }
        const take = bytesThatFit(batch, offset, this.size, this.maxBytes);
        for (let done = 0; done < take; ) done += writeSync(fd, batch, offset + done, take - done);
        this.size += take;
        offset += take;
        if (offset < batch.length) {
          if (fd !== this.handle?.fd) closeSync(fd);
          fd = undefined;
          this.rotateSync();
        }
      }
    } catch {
      // Exiting: nowhere left to report a disk error.
    } finally {
      if (fd !== undefined && fd !== this.handle?.fd) closeSync(fd);
    }
  }

  private rotateSync(): void {
    if (this.files === 1) {
      rmSync(this.path, { force: true });
      return;
    }
    for (let i = this.files - 1; i >= 1; i--) {
      const from = i === 1 ? this.path : `${this.path}.${i - 1}`;
      try {
        renameSync(from, `${this.path}.${i}`);
      } catch (error) {
        ignoreMissing(error as NodeJS.ErrnoException);
      }
    }
  }

  // ─── lines ─────────────────────────────────────────────────────────────────────────────────

  private deferLines(bytes: Buffer): void {
    this.unsplit.push(bytes);
    this.unsplitBytes += bytes.length;
    for (let nl = bytes.indexOf(NEWLINE); nl >= 0; nl = bytes.indexOf(NEWLINE, nl + 1))
      this.unsplitNewlines++;
    if (this.unsplitBytes > UNSPLIT_MAX_BYTES) {
      this.compactDeferred();
      if (this.unsplitBytes > UNSPLIT_MAX_BYTES) this.splitDeferred();
    }
  }

  /**
   * When the waiting bytes hold more than a ring-full of lines, everything before the last RING_LINES
   * of them can never be seen again (nobody follows): the ring and the partial line start afresh after
   * that newline. A newline byte never sits inside a UTF-8 sequence, so the decoder restarts cleanly.
   */
  private compactDeferred(): void {
    if (this.unsplitNewlines <= RING_LINES) return;
    const all = this.unsplit.length === 1 ? this.unsplit[0]! : Buffer.concat(this.unsplit, this.unsplitBytes);
    let cut = all.length;
    for (let i = 0; i <= RING_LINES; i++) cut = all.lastIndexOf(NEWLINE, cut - 1);
    const rest = all.subarray(cut + 1);
    this.ring.length = 0;
    this.ringStart = 0;
    this.decoder.end();
    this.partial = "";
    this.partialCut = false;
    this.unsplit = rest.length > 0 ? [rest] : [];
    this.unsplitBytes = rest.length;
    this.unsplitNewlines = RING_LINES;
  }

  private splitDeferred(): void {
    if (this.unsplitBytes === 0) return;
    this.compactDeferred();
    const parts = this.unsplit;
    this.unsplit = [];
    this.unsplitBytes = 0;
    this.unsplitNewlines = 0;
    if (parts.length > 0) this.splitLines(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  private splitLines(bytes: Buffer): void {
    const text = this.decoder.write(bytes);
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      this.appendPartial(text.slice(start, nl));
      this.emit();
      start = nl + 1;
    }
    if (start < text.length) this.appendPartial(text.slice(start));
  }

  private appendPartial(piece: string): void {
    if (this.partialCut || piece.length === 0) return;
    const room = MAX_LINE_CHARS - this.partial.length;
    if (piece.length > room) {
      this.partial += piece.slice(0, room);
      this.partialCut = true;
    } else {
      this.partial += piece;
    }
  }

  private emit(): void {
    const line = this.partial.endsWith("\r") ? this.partial.slice(0, -1) : this.partial;
    this.partial = "";
    this.partialCut = false;
    if (this.ring.length < RING_LINES) {
      this.ring.push(line);
    } else {
      this.ring[this.ringStart] = line;
      this.ringStart = (this.ringStart + 1) % RING_LINES;
    }
    for (const listener of this.listeners) {
      try {
        listener(line);
      } catch {
        // A follower's failure must not break logging for the child or other followers.
      }
    }
  }

  // ─── disk ──────────────────────────────────────────────────────────────────────────────────

  /** Serialises file access: writes and rotations against tail reads. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.lock.then(task, task);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * One writer session holds the file lock once and writes batches until the queue is empty: writes
   * that arrive meanwhile join the next batch instead of starting a session of their own.
   */
  private async drain(): Promise<void> {
    try {
      await this.exclusive(() => this.drainBatches());
    } catch (error) {
      this.setFailure(
        new RmxError("LOG_WRITE_FAILED", `cannot write log ${this.path}: ${errnoText(error)}`, {
          path: this.path,
          errno: (error as NodeJS.ErrnoException).code,
        }),
      );
      // Drop what is queued; the next write tries the disk again.
      this.pending = [];
      this.pendingBytes = 0;
      const handle = this.handle;
      this.handle = undefined;
      await handle?.close().catch(() => undefined);
    } finally {
      this.draining = undefined;
      if (this.pending.length > 0 || this.dropped > 0) this.scheduleDrain(false);
      else this.urgent = false;
    }
  }

  /**
   * Writes one batch, then more only while someone waits or a full batch is queued: output that came in
   * during the write waits for the next window instead of making a small write of its own.
   */
  private async drainBatches(): Promise<void> {
    let first = true;
    while (
      (this.pending.length > 0 || this.dropped > 0) &&
      (first || this.urgent || this.pendingBytes >= WRITE_BATCH_BYTES)
    ) {
      first = false;
      const parts = this.pending;
      this.pending = [];
      this.pendingBytes = 0;
      if (this.dropped > 0) {
        parts.push(
          Buffer.from(`[rmx] dropped ${this.dropped} bytes of output: the log writer fell behind\n`),
        );
        this.dropped = 0;
      }
      const batch = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      await this.writeOut(batch);
      this.setFailure(undefined);
    }
  }

  private async openFile(): Promise<FileHandle> {
    if (this.handle !== undefined) return this.handle;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const handle = await open(this.path, APPEND_NOFOLLOW, 0o600);
    const st = await handle.stat();
    // A FIFO or device planted at the name, or a hard link to someone else's file, is not our log.
    if (!st.isFile() || st.nlink > 1) {
      await handle.close();
      const what = st.isFile() ? `a file with ${st.nlink} hard links` : "not a regular file";
      throw Object.assign(new Error(`${this.path} is ${what}; refusing to append to it`), { code: "EPERM" });
    }
    this.size = st.size;
    this.handle = handle;
    return handle;
  }

  private async writeOut(batch: Buffer): Promise<void> {
    let offset = 0;
    while (offset < batch.length) {
      const handle = await this.openFile();
      const take = bytesThatFit(batch, offset, this.size, this.maxBytes);
      if (take > 0) {
        await writeAll(handle, batch.subarray(offset, offset + take));
        this.size += take;
        offset += take;
      }
      if (offset < batch.length) await this.rotate();
    }
  }

  private async rotate(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
    if (this.files === 1) {
      await unlink(this.path).catch(ignoreMissing);
      return;
    }
    for (let i = this.files - 1; i >= 1; i--) {
      const from = i === 1 ? this.path : `${this.path}.${i - 1}`;
      await rename(from, `${this.path}.${i}`).catch(ignoreMissing);
    }
  }

  /**
   * Reads backwards from the end, newest file first, and stops at `n` lines or TAIL_MAX_BYTES read,
   * whichever comes first: a newline-free 100 MB log used to be read (and answered) almost whole.
   */
  private async readTail(n: number): Promise<string[]> {
    const chunks: Buffer[] = [];
    let newlines = 0;
    let read = 0;
    /** Bytes left unread before the first chunk, in the file it came from (older files not counted). */
    let unreadBefore = 0;
    const want = () => newlines <= n && read < TAIL_MAX_BYTES;
    for (let i = 0; i < this.files && want(); i++) {
      const file = i === 0 ? this.path : `${this.path}.${i}`;
      let handle: FileHandle;
      try {
        handle = await open(file, "r");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      try {
        let end = (await handle.stat()).size;
        while (end > 0 && want()) {
          const start = Math.max(0, end - TAIL_BLOCK, end - (TAIL_MAX_BYTES - read));
          const block = Buffer.alloc(end - start);
          await handle.read(block, 0, block.length, start);
          chunks.unshift(block);
          read += block.length;
          for (const byte of block) if (byte === NEWLINE) newlines++;
          end = start;
        }
        unreadBefore = end;
      } finally {
        await handle.close();
      }
    }
    return tailLines(Buffer.concat(chunks), n, !want() && newlines <= n, unreadBefore);
  }
}

/** Logs whose output waits for the coalescing window: written synchronously if the process exits first. */
const waitingForWindow = new Set<RotatingLog>();
let exitHookInstalled = false;

function writeBeforeExit(log: RotatingLog): void {
  waitingForWindow.add(log);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const l of waitingForWindow) l.flushSync();
  });
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== "ENOENT") throw error;
}
