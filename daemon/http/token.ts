/**
 * The gateway's bearer token: generated at first start into `<state dir>/http-token` (0600, written
 * atomically, never through a symlink), read back on later starts so clients keep working across restarts.
 * Compared in constant time.
 */

import { constants } from "node:fs";
import path from "node:path";
import { equalConstantTime } from "../../base/constant-time.js";
import { randomBase64url } from "../../base/entropy.js";
import { RmxError } from "../../base/errors.js";
import { open } from "../../base/fs-async.js";
import { errnoText } from "../../base/fs-errors.js";
import { writeFileAtomic } from "../persist/atomic.js";

export const TOKEN_FILE = "http-token";
const TOKEN_PATTERN = /^rmx-[A-Za-z0-9_-]{43}$/;
const MAX_TOKEN_FILE = 256;

export function newToken(): string {
  return `rmx-${randomBase64url(32)}`;
}

async function readToken(file: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RmxError("PATH_UNTRUSTED", `cannot read the gateway token ${file}: ${errnoText(error)}`, {
      path: file,
    });
  }
  try {
    const buffer = Buffer.alloc(MAX_TOKEN_FILE);
    const { bytesRead } = await handle.read(buffer, 0, MAX_TOKEN_FILE, 0);
    const text = buffer.subarray(0, bytesRead).toString("utf8").trim();
    // A hand-edited or truncated file is replaced rather than trusted: a short token is guessable.
    return TOKEN_PATTERN.test(text) ? text : undefined;
  } finally {
    await handle.close();
  }
}

/** The token in the state dir, created (and persisted) when missing or unreadable as a token. */
export async function loadOrCreateToken(
  stateDir: string,
): Promise<{ token: string; created: boolean; file: string }> {
  const file = path.join(stateDir, TOKEN_FILE);
  const existing = await readToken(file);
  if (existing !== undefined) return { token: existing, created: false, file };
  const token = newToken();
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return { token, created: true, file };
}

/** The expected token's bytes, kept: the token is fixed for the daemon's life. */
let expectedOf: { token: string; bytes: Buffer } | undefined;

const isBlank = (c: number) => c === 0x20 || c === 0x09;
/** What a regex's `\s` matches. */
const isSpace = (c: number) =>
  isBlank(c) ||
  (c >= 0x0a && c <= 0x0d) ||
  c === 0xa0 ||
  (c >= 0x1680 &&
    (c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff));

/**
 * `Authorization: Bearer <token>` in constant time (for equal lengths; the length itself is not secret).
 * Scanned by hand (the scheme, blanks, the token up to trailing white space: what
 * `/^Bearer[ \t]+(\S+)\s*$/i` accepts): a regex match and two buffers per request were most of the guard's cost.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || header.length < 8) return false;
  if (header.slice(0, 6).toLowerCase() !== "bearer" || !isBlank(header.charCodeAt(6))) return false;
  let start = 7;
  while (start < header.length && isBlank(header.charCodeAt(start))) start++;
  let end = header.length;
  while (end > start && isSpace(header.charCodeAt(end - 1))) end--;
  if (end === start) return false;
  for (let i = start; i < end; i++) if (isSpace(header.charCodeAt(i))) return false;
  if (expectedOf?.token !== token) expectedOf = { token, bytes: Buffer.from(token, "utf8") };
  const expected = expectedOf.bytes;
  const given = header.slice(start, end);
  if (Buffer.byteLength(given, "utf8") !== expected.length) return false;
  return equalConstantTime(Buffer.from(given, "utf8"), expected);
}
