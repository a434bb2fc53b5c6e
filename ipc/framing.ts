/**
 * Newline-delimited JSON framing. Splitting happens on the byte 0x0A, which never occurs inside a
 * multi-byte UTF-8 sequence, so a character split across chunks is reassembled before decoding.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface DecodedChunk {
  lines: string[];
  /**
   * The current line grew past `maxLineBytes`. Sticky: the decoder keeps nothing more and every later
   * push answers `{ lines: [], overflow: true }`; `lines` holds only the complete lines before it.
   */
  overflow: boolean;
}

export class LineDecoder {
  private parts: Buffer[] = [];
  private pendingBytes = 0;
  private overflowed = false;

  constructor(private readonly maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`);
    }
  }

  push(chunk: Buffer): DecodedChunk {
    if (this.overflowed) return { lines: [], overflow: true };
    const lines: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      const total = this.pendingBytes + (end - start);
      if (newline === -1) {
        // Keep at most maxLineBytes + 1 bytes: the extra one may be the `\r` of a `\r\n`.
        if (total > this.maxLineBytes + 1) return this.overflow(lines);
        if (total === this.maxLineBytes + 1 && chunk[end - 1] !== CARRIAGE_RETURN)
          return this.overflow(lines);
        this.parts.push(chunk.subarray(start));
        this.pendingBytes = total;
        break;
      }
      const lastByte = end > start ? chunk[end - 1] : this.lastPendingByte();
      const contentBytes = lastByte === CARRIAGE_RETURN ? total - 1 : total;
      if (contentBytes > this.maxLineBytes) return this.overflow(lines);
      const piece = chunk.subarray(start, start + (contentBytes - this.pendingBytes));
      let line: Buffer = piece;
      if (this.parts.length > 0) {
        // A `\r` held at the end of the pending parts is cut off by the length given to concat.
        this.parts.push(piece);
        line = Buffer.concat(this.parts, contentBytes);
        this.parts = [];
        this.pendingBytes = 0;
      }
      lines.push(line.toString("utf8"));
      start = newline + 1;
    }
    return { lines, overflow: false };
  }

  /** Forgets the line not yet terminated (a connection being closed keeps nothing it will not use). */
  reset(): void {
    this.parts = [];
    this.pendingBytes = 0;
  }

  /** Bytes held for the line not yet terminated. */
  get buffered(): number {
    return this.pendingBytes;
  }

  private lastPendingByte(): number | undefined {
    const last = this.parts[this.parts.length - 1];
    return last === undefined ? undefined : last[last.length - 1];
  }

  private overflow(lines: string[]): DecodedChunk {
    this.overflowed = true;
    this.parts = [];
    this.pendingBytes = 0;
    return { lines, overflow: true };
  }
}

/** One message on the wire: its JSON and the terminating newline. */
export function encodeMessage(obj: unknown): string {
  return `${JSON.stringify(obj)}\n`;
}
