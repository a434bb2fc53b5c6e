/**
 * The byte-level rules of a log's files, pure: where a batch is cut to fit a file, and how the last lines
 * of what was read from disk are shown (`tail`).
 */
const NEWLINE = 0x0a;

/** Most bytes one `tail` reads from disk, whatever `n`. */
export const TAIL_MAX_BYTES = 4 * 1024 * 1024;
/** Longest line `tail` returns whole; longer ones are cut with a marker giving the bytes cut. */
export const TAIL_MAX_LINE_BYTES = 64 * 1024;

/**
 * The last `n` lines of `data`. `headCut`: the read stopped at the byte cap inside the first line, whose
 * start (at least `unreadBefore` more bytes) was never read.
 */
export function tailLines(data: Buffer, n: number, headCut: boolean, unreadBefore: number): string[] {
  const lines: Buffer[] = [];
  let from = 0;
  for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE, from)) {
    lines.push(data.subarray(from, nl));
    from = nl + 1;
  }
  if (from < data.length) lines.push(data.subarray(from));
  const kept = lines.slice(-n);
  const firstIsPartial = headCut && kept.length === lines.length;
  return kept.map((raw, index) => {
    const line = raw.at(-1) === 0x0d ? raw.subarray(0, -1) : raw;
    if (index === 0 && firstIsPartial) {
      const end = line.subarray(charStart(line, Math.max(0, line.length - TAIL_MAX_LINE_BYTES)));
      const cut = unreadBefore + line.length - end.length;
      return `[rmx] line cut: at least ${cut} earlier bytes not read …${end.toString("utf8")}`;
    }
    if (line.length <= TAIL_MAX_LINE_BYTES) return line.toString("utf8");
    const keep = charStart(line, TAIL_MAX_LINE_BYTES);
    return `${line.subarray(0, keep).toString("utf8")}… [rmx] line cut: ${line.length - keep} bytes not shown`;
  });
}

/** The nearest UTF-8 character boundary at or before `at`. */
function charStart(bytes: Buffer, at: number): number {
  let i = at;
  while (i > 0 && i < bytes.length && ((bytes[i] as number) & 0xc0) === 0x80) i--;
  return i;
}

/** How much of `batch` from `offset` goes into a file of `size` bytes: whole lines, unless it is empty. */
export function bytesThatFit(batch: Buffer, offset: number, size: number, maxBytes: number): number {
  const room = maxBytes - size;
  const left = batch.length - offset;
  if (left <= room) return left;
  // Cut at the last newline that fits; an empty file takes a hard cut rather than nothing.
  const nl = room > 0 ? batch.lastIndexOf(NEWLINE, offset + room - 1) : -1;
  return nl >= offset ? nl + 1 - offset : size === 0 ? room : 0;
}
