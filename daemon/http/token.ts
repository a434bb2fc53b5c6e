/**
 * The gateway's bearer token: generated at first start into `<state dir>/http-token` (0600, written
 * atomically, never through a symlink), read back on later starts so clients keep working across restarts.
 * Compared in constant time.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { RmxError } from "../../base/errors.js";
import { errnoText } from "../../base/fs-errors.js";
import { writeFileAtomic } from "../persist/atomic.js";

export const TOKEN_FILE = "http-token";
const TOKEN_PATTERN = /^rmx-[A-Za-z0-9_-]{43}$/;
const MAX_TOKEN_FILE = 256;

export function newToken(): string {
  return `rmx-${randomBytes(32).toString("base64url")}`;
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

/** `Authorization: Bearer <token>` in constant time (for equal lengths; the length itself is not secret). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  if (match === null) return false;
  const given = Buffer.from(match[1] as string, "utf8");
  const expected = Buffer.from(token, "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
