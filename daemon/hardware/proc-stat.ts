/**
 * CPU and RSS of processes read straight from Linux's /proc: one small synchronous read per process
 * per tick (procfs answers from kernel memory, nothing blocks), instead of pidusage's open/fstat/read/close
 * chain through the thread pool, its per-pid expiry timers and its `getconf` child at first use. With 50
 * runtimes sampled every 5 s this took the sampler from about 0.45 % to under 0.1 % of a core.
 * Each process's stat file stays open between ticks and is re-read with one pread at offset 0 (procfs
 * renders it afresh): one syscall per process instead of readFileSync's open, fstat, read and close. The
 * open file belongs to the process it was opened for: once that one is gone the read fails (ESRCH), so
 * a reused pid is reopened, never read through the old process's file.
 * CPU percent means what pidusage's does: CPU time since the previous sample of that pid over the wall
 * time between them, since the process started for its first sample.
 */
import fs from "node:fs";
import type { ProcessSample } from "../../ipc/protocol/hardware.js";

/** USER_HZ: the unit of /proc's tick counts, fixed at 100 by the kernel ABI on every architecture. */
const TICKS_PER_SECOND = 100;

export interface ProcStat {
  /** utime + stime, seconds. */
  cpuSeconds: number;
  /** Start time, seconds after boot. */
  startSeconds: number;
  rssPages: number;
}

/** The fields parseProcStat reads, counted from field 3 (state) = 0: utime, stime, starttime, rss. */
const UTIME = 11;
const STIME = 12;
const START = 19;
const RSS = 21;

/**
 * Parses /proc/<pid>/stat; undefined when it is not one. The name (field 2) may hold spaces and parentheses.
 * Walks the space-separated fields and converts only the four it needs (as `Number` of each, so exactly
 * what splitting gave): a split made ~50 strings per process per tick, the sampler's main garbage.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  let utime = Number.NaN;
  let stime = Number.NaN;
  let start = Number.NaN;
  let rss = Number.NaN;
  let from = close + 2;
  for (let field = 0; field <= RSS && from <= text.length; field++) {
    let to = text.indexOf(" ", from);
    if (to < 0) to = text.length;
    if (field === UTIME) utime = Number(text.slice(from, to));
    else if (field === STIME) stime = Number(text.slice(from, to));
    else if (field === START) start = Number(text.slice(from, to));
    else if (field === RSS) rss = Number(text.slice(from, to));
    from = to + 1;
  }
  if (!(Number.isFinite(utime) && Number.isFinite(stime) && Number.isFinite(start) && Number.isFinite(rss)))
    return undefined;
  return {
    cpuSeconds: (utime + stime) / TICKS_PER_SECOND,
    startSeconds: start / TICKS_PER_SECOND,
    rssPages: rss,
  };
}

/** CPU percent of one process between two readings (uptime in seconds after boot). */
export function cpuPercent(
  now: { cpuSeconds: number; uptime: number },
  before: { cpuSeconds: number; uptime: number } | undefined,
  startSeconds: number,
): number {
  const elapsed = now.uptime - (before?.uptime ?? startSeconds);
  const used = now.cpuSeconds - (before?.cpuSeconds ?? 0);
  return elapsed > 0 && used >= 0 ? (used / elapsed) * 100 : 0;
}

type Reader = (file: string) => string;
const readText: Reader = (file) => fs.readFileSync(file, "latin1");

/** /proc/<pid>/stat is ~300 bytes; a name of 64 chars and 52 fields of 20 digits still fit. */
const STAT_BYTES = 4096;

/** /proc files kept open and re-read at offset 0: one pread per tick each. */
class OpenProcFiles {
  private readonly fds = new Map<string, number>();
  private readonly buffer = Buffer.allocUnsafe(STAT_BYTES);

  /** The file's text now; throws when it cannot be opened or read (the process is gone). */
  read(file: string): string {
    const open = this.fds.get(file);
    if (open !== undefined) {
      const text = this.pread(open);
      if (text !== undefined) return text;
      this.close(file); // its process is gone: a process with its pid now is another one, reopened below
    }
    const fd = fs.openSync(file, "r");
    const text = this.pread(fd);
    if (text === undefined) {
      fs.closeSync(fd);
      throw Object.assign(new Error(`${file}: gone`), { code: "ESRCH" });
    }
    this.fds.set(file, fd);
    return text;
  }

  private pread(fd: number): string | undefined {
    try {
      const n = fs.readSync(fd, this.buffer, 0, STAT_BYTES, 0);
      return n > 0 ? this.buffer.toString("latin1", 0, n) : undefined;
    } catch {
      return undefined;
    }
  }

  close(file: string): void {
    const fd = this.fds.get(file);
    if (fd === undefined) return;
    this.fds.delete(file);
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
  }

  /** Closes the files not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const file of [...this.fds.keys()]) if (!keep.has(file)) this.close(file);
  }

  closeAll(): void {
    this.retain(new Set());
  }
}

/** Bytes per page: what /proc/self/statm counts RSS in, against what Node reports in bytes. */
function pageSize(read: Reader): number {
  try {
    const pages = Number(read("/proc/self/statm").split(" ")[1]);
    const ratio = process.memoryUsage.rss() / pages;
    if (Number.isFinite(ratio) && ratio > 0) return 2 ** Math.round(Math.log2(ratio));
  } catch {
    // fall through to the common size
  }
  return 4096;
}

export class ProcStatSampler {
  private readonly last = new Map<number, { cpuSeconds: number; uptime: number; start: number }>();
  private page: number | undefined;
  private readonly paths = new Map<number, string>();
  private uptimeFile: string | undefined;
  private readonly read: Reader;
  /** Set when reading the real files (no reader given): kept open between samples. */
  private readonly files: OpenProcFiles | undefined;

  /** `read`: a reader of file texts (tests over a fake tree); default the files under `root`, kept open. */
  constructor(
    private readonly root = "/proc",
    read?: Reader,
  ) {
    if (read !== undefined) this.read = read;
    else {
      const files = new OpenProcFiles();
      this.files = files;
      this.read = (file) => files.read(file);
    }
  }

  /** Closes the files kept open (the sampler still works: it reopens them). */
  close(): void {
    this.files?.closeAll();
  }

  /** Samples `pids` (those gone are left out) and forgets the history of pids not asked for. */
  sample(pids: readonly number[]): Record<number, ProcessSample> {
    const uptime = Number(this.read(this.uptimePath).split(" ")[0]);
    this.page ??= this.root === "/proc" ? pageSize(readText) : 4096;
    const samples: Record<number, ProcessSample> = {};
    const asked = new Set(pids);
    // Files to close: only when a pid left or failed (the same pids tick after tick close none).
    let prune = false;
    for (const pid of asked) {
      let stat: ProcStat | undefined;
      try {
        stat = parseProcStat(this.read(this.statPath(pid)));
      } catch {
        stat = undefined; // gone since the caller listed it
      }
      if (stat === undefined) {
        prune = true;
        continue;
      }
      const previous = this.last.get(pid);
      // A reused pid is another process: its history does not carry over.
      const before = previous?.start === stat.startSeconds ? previous : undefined;
      samples[pid] = {
        pid,
        cpu_percent: round2(cpuPercent({ cpuSeconds: stat.cpuSeconds, uptime }, before, stat.startSeconds)),
        rss_bytes: stat.rssPages * this.page,
      };
      if (previous === undefined)
        this.last.set(pid, { cpuSeconds: stat.cpuSeconds, uptime, start: stat.startSeconds });
      else {
        previous.cpuSeconds = stat.cpuSeconds;
        previous.uptime = uptime;
        previous.start = stat.startSeconds;
      }
    }
    for (const pid of this.last.keys())
      if (!asked.has(pid) || samples[pid] === undefined) {
        this.last.delete(pid);
        this.paths.delete(pid);
        prune = true;
      }
    if (prune) for (const pid of this.paths.keys()) if (samples[pid] === undefined) this.paths.delete(pid);
    if (this.files !== undefined && prune) {
      const keep = new Set([this.uptimePath]);
      for (const pid of Object.keys(samples)) keep.add(this.statPath(Number(pid)));
      this.files.retain(keep);
    }
    return samples;
  }

  private get uptimePath(): string {
    this.uptimeFile ??= `${this.root}/uptime`;
    return this.uptimeFile;
  }

  /** `root/<pid>/stat`, made once per pid sampled (the key of its open file). */
  private statPath(pid: number): string {
    let file = this.paths.get(pid);
    if (file === undefined) {
      file = `${this.root}/${pid}/stat`;
      this.paths.set(pid, file);
    }
    return file;
  }
}

function round2(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : 0;
}
