import { constants } from "node:fs";
import path from "node:path";
import type { Clock } from "../../base/clock.js";
import { rfc3339, systemClock } from "../../base/clock.js";
import { randomHex } from "../../base/entropy.js";
import { RmxError } from "../../base/errors.js";
import { link, open, rename, unlink } from "../../base/fs-async.js";
import { errnoText } from "../../base/fs-errors.js";

/** A new temp file only: never an existing file, never through a planted symlink. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

/**
 * Replaces `file` so that a reader (or a crash) sees either the old content or the new, never a mix:
 * temp file in the same directory (created new, 0600, links not followed), write, fsync, rename over,
 * fsync the directory. Fails with STATE_WRITE_FAILED naming the cause (ENOSPC, EROFS, EACCES) and path.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomHex(6)}.tmp`);
  try {
    const handle = await open(temp, CREATE_NEW, mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    throw new RmxError(
      "STATE_WRITE_FAILED",
      `cannot write ${file}: ${errnoText(error)}`,
      { path: file, ...(code === undefined ? {} : { errno: code }) },
      {
        cause: error,
      },
    );
  }
  await syncDirectory(dir);
}

/** Makes the rename durable. Some platforms (Windows) and file systems cannot fsync a directory: best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The data itself is already synced; only the rename's durability is at the mercy of the FS here.
  }
}

export interface QuarantineResult<T> {
  value?: T;
  warning?: string;
  quarantinedTo?: string;
}

/**
 * Reads a JSON file through `parse` (which returns undefined for an invalid shape). A missing file is
 * `{}`; a file that is empty, half-written, unparsable or invalid is moved aside to
 * `<file>.corrupt-<timestamp>` and reported in `warning`, so the daemon starts fresh without losing it.
 */
export async function readJsonWithQuarantine<T>(
  file: string,
  parse: (value: unknown) => T | undefined,
  opts: { clock?: Clock } = {},
): Promise<QuarantineResult<T>> {
  let text: string;
  try {
    // A symlink planted at the state file is refused (ELOOP), not read through.
    const handle = await open(file, READ_NOFOLLOW);
    try {
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return {};
    throw new RmxError(
      "STATE_CORRUPT",
      `cannot read ${file}: ${errnoText(error)}`,
      { path: file, errno: code },
      {
        cause: error,
      },
    );
  }
  let problem: string;
  try {
    const value = parse(JSON.parse(text));
    if (value !== undefined) return { value };
    problem = "content does not have the expected shape";
  } catch (error) {
    problem = text.trim() === "" ? "file is empty" : `not valid JSON: ${(error as Error).message}`;
  }
  const quarantinedTo = await quarantine(file, (opts.clock ?? systemClock).now());
  return {
    warning: `${file} was unreadable (${problem}); moved to ${quarantinedTo} and starting fresh`,
    quarantinedTo,
  };
}

async function quarantine(file: string, now: number): Promise<string> {
  // 2025-11-24T00:12:00.123Z → 20251124T001200123Z: no ':' so the name is valid everywhere.
  const stamp = rfc3339(now).replace(/[-:.]/g, "");
  for (let attempt = 0; ; attempt++) {
    const target = `${file}.corrupt-${stamp}${attempt === 0 ? "" : `-${attempt}`}`;
    try {
      // Hard link + unlink rather than rename so an earlier quarantine with the same stamp is never overwritten.
      await link(file, target);
      await unlink(file);
      return target;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && attempt < 100) continue;
      if (code === "EEXIST" || code === "EPERM" || code === "ENOTSUP" || code === "EXDEV") {
        await rename(file, target);
        return target;
      }
      throw new RmxError("STATE_CORRUPT", `cannot move corrupt ${file} aside: ${(error as Error).message}`, {
        path: file,
        errno: code,
      });
    }
  }
}
