/**
 * Opening a model file without ever blocking. A plain `open()` of a FIFO waits for a writer inside one of
 * libuv's four threadpool threads; four such calls used to stall every file operation of the daemon (logs,
 * state writes, shutdown). So: open with O_NONBLOCK (a FIFO opens at once, a regular file is unaffected),
 * fstat the descriptor, and refuse anything that is not a regular file before a single byte is read.
 */
import { constants, type Stats } from "node:fs";
import { RmxError } from "../../../base/errors.js";
import { type FileHandle, open, stat } from "../../../base/fs-async.js";

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0);

/** What a non-regular file is, for messages: "a FIFO (named pipe)", "a socket", "a directory", … */
export function fileKind(info: Stats): string {
  if (info.isFile()) return "a regular file";
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a FIFO (named pipe)";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  return "not a regular file";
}

export function notRegularFile(path: string, info: Stats): RmxError {
  const kind = fileKind(info);
  return new RmxError(
    "MODEL_INVALID",
    `model file ${path} is ${kind}, not a regular file; point it at a .gguf file`,
    { path, kind },
  );
}

export interface OpenedModel {
  handle: FileHandle;
  info: Stats;
}

/**
 * Opens `path` for reading, non-blocking, and checks with fstat that it is a regular file (no race with a
 * stat done before). Rejects with the errno as is (callers word ENOENT/EACCES their way) or MODEL_INVALID.
 */
export async function openModelFile(path: string): Promise<OpenedModel> {
  let handle: FileHandle;
  try {
    handle = await open(path, FLAGS);
  } catch (error) {
    // A Unix socket cannot be opened at all (ENXIO): say what it is rather than echo the errno.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENXIO" || code === "EOPNOTSUPP") {
      const info = await stat(path).catch(() => undefined);
      if (info !== undefined && !info.isFile()) throw notRegularFile(path, info);
    }
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegularFile(path, info);
    return { handle, info };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * `openModelFile`, with a failure to open worded for `what` ("ONNX", "whisper"): MODEL_MISSING naming the
 * file and the errno; MODEL_INVALID (not a regular file) as it is.
 */
export async function openModelOf(path: string, what: string): Promise<OpenedModel> {
  try {
    return await openModelFile(path);
  } catch (error) {
    if (error instanceof RmxError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new RmxError("MODEL_MISSING", `${path}: cannot open the ${what} model (${code ?? String(error)})`, {
      path,
    });
  }
}
