/**
 * Cryptographically strong random bytes without node:crypto: loading it (its ~17 internal modules and
 * OpenSSL's set-up on first use) cost the daemon 0.5-1 MiB of RSS for good, for a few tokens, UUIDs and
 * file-name suffixes. Off Windows the kernel's CSPRNG is read from /dev/urandom into a pool; on Windows,
 * or where /dev/urandom cannot be opened, node:crypto is loaded at that first use.
 */
const { closeSync, openSync, readSync } = process.getBuiltinModule("node:fs");

const POOL_BYTES = 4096;
let pool: Buffer | undefined;
let used = POOL_BYTES;
let urandom: number | undefined | null; // null: tried and not available

function fillFromSystem(target: Buffer): void {
  if (urandom === undefined) {
    try {
      urandom = process.platform === "win32" ? null : openSync("/dev/urandom", "r");
    } catch {
      urandom = null;
    }
  }
  if (urandom === null) {
    process.getBuiltinModule("node:crypto").randomFillSync(target);
    return;
  }
  let at = 0;
  while (at < target.length) {
    const n = readSync(urandom, target, at, target.length - at, null);
    if (n <= 0) {
      closeSync(urandom);
      urandom = null;
      fillFromSystem(target.subarray(at));
      return;
    }
    at += n;
  }
}

/** `n` fresh random bytes (a copy: no two calls share bytes). */
export function randomBytes(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  if (n > POOL_BYTES / 4) {
    fillFromSystem(out);
    return out;
  }
  let at = 0;
  while (at < n) {
    if (pool === undefined || used === POOL_BYTES) {
      pool ??= Buffer.allocUnsafe(POOL_BYTES);
      fillFromSystem(pool);
      used = 0;
    }
    const take = Math.min(n - at, POOL_BYTES - used);
    pool.copy(out, at, used, used + take);
    // Handed out once: overwrite what was taken, so a later reader of the pool learns nothing.
    pool.fill(0, used, used + take);
    used += take;
    at += take;
  }
  return out;
}

export const randomHex = (bytes: number): string => randomBytes(bytes).toString("hex");
export const randomBase64url = (bytes: number): string => randomBytes(bytes).toString("base64url");

/** An RFC 9562 version 4 UUID in its text form. */
export function randomUUID(): string {
  const b = randomBytes(16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A float in [0, 1) from 53 random bits. */
export function randomUnit(): number {
  const b = randomBytes(8);
  const high = b.readUInt32BE(0) >>> 11; // 21 bits
  const low = b.readUInt32BE(4); // 32 bits
  return (high * 2 ** 32 + low) / 2 ** 53;
}
