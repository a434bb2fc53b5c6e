/**
 * One output stream's bytes cut at line ends before they meet another stream's in a shared log. A pipe
 * read ends anywhere (64 KiB at a time), so without this a stderr line read between two reads of a long
 * stdout burst lands inside a stdout line ("…line 29 xxlast stderr line"): neither line is whole in
 * the file or the ring. A partial line is held until its newline comes, the stream ends or its writer
 * exits (flush), it grows past HELD_MAX_BYTES, or HOLD_MS pass (a prompt, progress dots: what is
 * written still shows up, only not spliced into the other stream's lines). The hold time does not run
 * out while `pending()` says the rest is already on its way (the pipes paused by a log that is behind):
 * that wait is the daemon's, not the writer's, and is no reason to cut the line.
 */
export const HOLD_MS = 100;
/** A "line" longer than this goes out as it is: holding it would only delay it. */
export const HELD_MAX_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export class LineFramer {
  private held: Buffer | undefined;
  /** One timer for the framer's life, re-armed (refresh) when a hold begins and none is due. */
  private timer: NodeJS.Timeout | undefined;
  private armed = false;

  private readonly holdMs: number;
  private readonly pending: () => boolean;

  /**
   * `sink` takes the bytes: the child's log writer, which pauses the pipes when the disk is behind.
   * `pending`: whether more of this stream is waiting to be read (then a due hold is put off).
   */
  constructor(
    private readonly sink: (bytes: Buffer) => void,
    opts: { holdMs?: number; pending?: () => boolean } = {},
  ) {
    this.holdMs = opts.holdMs ?? HOLD_MS;
    this.pending = opts.pending ?? (() => false);
  }

  /** Passes on every complete line of `chunk` (after what was held) and holds the rest. */
  push(chunk: Buffer): void {
    const bytes = this.held === undefined ? chunk : Buffer.concat([this.held, chunk]);
    this.held = undefined;
    const end = bytes.lastIndexOf(NEWLINE) + 1;
    if (end === bytes.length || bytes.length - end > HELD_MAX_BYTES) {
      this.sink(bytes);
      return;
    }
    // Copied: a slice would keep the whole read buffer alive while the line waits.
    this.held = Buffer.from(bytes.subarray(end));
    this.arm();
    if (end > 0) this.sink(bytes.subarray(0, end));
  }

  /** Passes on what is held, a line without its end (the stream ended, or its writer died). */
  flush(): void {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) this.sink(held);
  }

  /**
   * Due HOLD_MS after the hold began, not after the last byte: dots written every few ms still show.
   * A line completed meanwhile leaves it due, and it then flushes nothing or a younger hold.
   */
  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      if (this.held !== undefined && this.pending()) {
        this.timer!.refresh();
        return;
      }
      this.armed = false;
      this.flush();
    }, this.holdMs);
    this.timer.unref();
  }
}
