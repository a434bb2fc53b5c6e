/**
 * The CLI's V8 code cache: the bytecode of the CLI core (dist/bin/rmx-core.cjs) as a finished run left it,
 * so the next run neither parses the bundle nor compiles the functions it calls (half of what the CLI
 * adds to Node's own start). Node's compile cache (`module.enableCompileCache`) keeps only what is
 * compiled before the module runs, the top level, which does not pay for a 60 KB bundle.
 *
 * V8 checks a cache's version, flags and source length, not its content: a corrupt payload aborts the
 * process (a fatal error in the deserializer, not an exception). So the file holds the payload twice and
 * is used only when both copies agree, which a torn write, a truncation or a flipped bit cannot fake; a
 * hash would cost more (node:zlib's crc32 is a module load away, a JavaScript loop over 64 KB is ~1 ms
 * in the interpreter) than the two native reads and one memcmp this costs. The header names the bundle
 * it was made for (a content hash the bundler computes), so a cache left by another build is never fed
 * to V8, even when the lengths match.
 *
 * Bytecode is code: a cache is read only from a regular file of our own that nobody else may write.
 * Every failure (no home, unwritable dir, another user's file, corrupt or stale content) means "no
 * cache": the CLI runs as it would without one and prints nothing about it.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";

/** File format: MAGIC, one flags byte, the id's length and bytes, the payload's length (u32 LE), payload × 2. */
const MAGIC = Buffer.from("RMXCODE1", "latin1");
/** The cache was written by `rmx runtime status`: it holds the hot path's functions. */
const FLAG_HOT = 1;
const MAX_ID_BYTES = 255;
/** Far above a real cache (~70 KB); a larger file is not ours to read. */
export const MAX_CACHE_BYTES = 16 * 1024 * 1024;

export interface CodeCache {
  /** V8's cached data for the core. */
  payload: Buffer;
  /** Written by a run of the hot path (`runtime status`). */
  hot: boolean;
}

export function encodeCodeCache(bundleId: string, payload: Uint8Array, hot: boolean): Buffer {
  const id = Buffer.from(bundleId, "latin1");
  if (id.length > MAX_ID_BYTES)
    throw new RangeError(`bundle id is ${id.length} bytes, at most ${MAX_ID_BYTES}`);
  const head = Buffer.alloc(MAGIC.length + 2 + id.length + 4);
  MAGIC.copy(head, 0);
  head[MAGIC.length] = hot ? FLAG_HOT : 0;
  head[MAGIC.length + 1] = id.length;
  id.copy(head, MAGIC.length + 2);
  head.writeUInt32LE(payload.length, MAGIC.length + 2 + id.length);
  return Buffer.concat([head, payload, payload]);
}

/** The payload of a cache file made for `bundleId`, or undefined when it is not one, or not whole. */
export function decodeCodeCache(file: Buffer, bundleId: string): CodeCache | undefined {
  const idAt = MAGIC.length + 2;
  if (file.length < idAt + 4 || !file.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const flags = file[MAGIC.length] as number;
  if ((flags & ~FLAG_HOT) !== 0) return undefined;
  const idLength = file[MAGIC.length + 1] as number;
  const lengthAt = idAt + idLength;
  if (file.length < lengthAt + 4) return undefined;
  if (file.toString("latin1", idAt, lengthAt) !== bundleId) return undefined;
  const length = file.readUInt32LE(lengthAt);
  const start = lengthAt + 4;
  if (length === 0 || file.length !== start + 2 * length) return undefined;
  const payload = file.subarray(start, start + length);
  if (!payload.equals(file.subarray(start + length))) return undefined;
  return { payload, hot: (flags & FLAG_HOT) !== 0 };
}

function absolute(value: string | undefined): string | undefined {
  return value !== undefined && value !== "" && isAbsolute(value) ? value : undefined;
}

/**
 * Where the cache lives: `$XDG_CACHE_HOME/runtime-matrix/cli`, else `~/.cache/runtime-matrix/cli`
 * (`%LOCALAPPDATA%\runtime-matrix\cli` on Windows); undefined with RMX_NO_CODE_CACHE=1 or no home.
 */
export function codeCacheDir(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  if (env.RMX_NO_CODE_CACHE === "1") return undefined;
  const base =
    platform === "win32"
      ? absolute(env.LOCALAPPDATA)
      : (absolute(env.XDG_CACHE_HOME) ??
        (absolute(env.HOME) === undefined ? undefined : join(env.HOME as string, ".cache")));
  return base === undefined ? undefined : join(base, "runtime-matrix", "cli");
}

/** One file per bundle and Node build: V8 rejects another version's cache anyway. */
export function codeCacheName(bundleId: string, nodeVersion: string, arch: string): string {
  return `rmx-core-${bundleId}-${nodeVersion}-${arch}.bin`;
}

const S_IWGRP = 0o020;
const S_IWOTH = 0o002;

/** The file's bytes when it is a regular file (not a symlink) we own and only we may write; else undefined. */
export function readOwnFile(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
    if (!st.isFile() || st.size > MAX_CACHE_BYTES) return undefined;
    if (uid !== undefined && (st.uid !== uid || (st.mode & (S_IWGRP | S_IWOTH)) !== 0)) return undefined;
    const bytes = Buffer.allocUnsafe(st.size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) return undefined;
      read += n;
    }
    return bytes;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` to `file` whole or not at all: a private temporary file beside it, renamed over it. The
 * directory is created private (0700). Throws on any failure; the caller decides it does not matter.
 */
export function writeFileAtomic(file: string, data: Uint8Array): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, data, { mode: 0o600, flag: "wx" });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** A cache of another build unused this long is garbage; a live one is at worst rebuilt once. */
export const PRUNE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Removes, beside `file`, the caches of other builds (another bundle or Node) and temporary files left by
 * an interrupted write, when older than PRUNE_AFTER_MS: two installs used side by side each keep theirs.
 * Errors are ignored.
 */
export function pruneOtherBundles(file: string, now: number = Date.now()): void {
  const dir = dirname(file);
  const own = basename(file);
  try {
    for (const name of readdirSync(dir)) {
      const ours = name.startsWith("rmx-core-") || name.startsWith(".rmx-core-");
      if (name === own || !ours) continue;
      const entry = join(dir, name);
      if (now - lstatSync(entry).mtimeMs > PRUNE_AFTER_MS) rmSync(entry, { force: true });
    }
  } catch {
    // A cache we cannot tidy is still a cache.
  }
}
