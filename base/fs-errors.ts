/** Human words for the errno codes a file-system failure carries, so a message names the real cause. */
const CAUSES: Record<string, string> = {
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ENOTDIR: "a parent is not a directory",
  EISDIR: "is a directory",
  EEXIST: "already exists",
  ELOOP: "is a symbolic link (refused: links are not followed here)",
  EIO: "input/output error",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
};

/** "read-only file system (EROFS)"; an error without an errno gives its message. */
export function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string") {
    const cause = CAUSES[code];
    return cause === undefined ? `${(error as Error).message}` : `${cause} (${code})`;
  }
  return error instanceof Error ? error.message : String(error);
}
