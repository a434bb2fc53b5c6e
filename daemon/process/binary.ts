import type { Stats } from "node:fs";
import { constants } from "node:fs";
import path from "node:path";
import { notRegularFile, openModelFile } from "../../adapters/shared/gguf/open-model.js";
import { RmxError } from "../../base/errors.js";
import { access, stat } from "../../base/fs-async.js";

/**
 * Resolves `command` to an absolute, executable path: a path (anything with a separator) relative to
 * the working directory, otherwise a PATH lookup. `opts.hint` ends the not-found message with what
 * the user can set (e.g. "set LLAMA_SERVER_BIN or runtimes[0].binary").
 */
export async function resolveBinary(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: { hint?: string } = {},
): Promise<string> {
  const hint = opts.hint === undefined ? "" : `; ${opts.hint}`;
  if (command === "")
    throw new RmxError("BINARY_NOT_FOUND", `binary not found: empty command${hint}`, { command });
  if (hasSeparator(command)) {
    const full = path.resolve(command);
    const verdict = await checkExecutable(full);
    if (verdict === "missing") {
      const shown = full === command ? command : `${command} (resolved to ${full})`;
      throw new RmxError("BINARY_NOT_FOUND", `binary not found: ${shown}${hint}`, { command, path: full });
    }
    if (verdict !== "ok") throw notExecutable(full, verdict);
    return full;
  }

  const dirs = (env.PATH ?? env.Path ?? "").split(path.delimiter).filter((dir) => dir !== "");
  const names = candidateNames(command, env);
  let firstRefusal: { file: string; why: string } | undefined;
  for (const dir of dirs) {
    for (const name of names) {
      const full = path.resolve(dir, name);
      const verdict = await checkExecutable(full);
      if (verdict === "ok") return full;
      if (verdict !== "missing") firstRefusal ??= { file: full, why: verdict };
    }
  }
  if (firstRefusal !== undefined) throw notExecutable(firstRefusal.file, firstRefusal.why);
  const searched = dirs.length === 0 ? "PATH is empty" : `searched PATH: ${dirs.join(path.delimiter)}`;
  throw new RmxError("BINARY_NOT_FOUND", `binary not found: ${command} (${searched})${hint}`, {
    command,
    searched: dirs,
  });
}

/** The model must be a readable regular file; returns its size. */
export async function assertModelReadable(file: string): Promise<{ size: number }> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" || code === "ENOTDIR"
        ? "model file not found"
        : `model file not accessible (${code})`;
    throw new RmxError("MODEL_MISSING", `${why}: ${file}`, { path: file, errno: code }, { cause: error });
  }
  if (info.isDirectory()) {
    throw new RmxError("MODEL_MISSING", `model path is a directory, not a model file: ${file}`, {
      path: file,
    });
  }
  if (!info.isFile()) throw notRegularFile(file, info);
  try {
    // Opening is the real test: permission bits, ACLs and mandatory access control all apply. Non-blocking
    // and fstat-checked, so a FIFO swapped in after the stat cannot hold a threadpool thread.
    const { handle } = await openModelFile(file);
    await handle.close();
  } catch (error) {
    if (error instanceof RmxError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new RmxError(
      "MODEL_MISSING",
      `model file not readable: ${file} (${code})`,
      { path: file, errno: code },
      {
        cause: error,
      },
    );
  }
  return { size: info.size };
}

function hasSeparator(command: string): boolean {
  return command.includes("/") || (process.platform === "win32" && command.includes("\\"));
}

function candidateNames(command: string, env: NodeJS.ProcessEnv): string[] {
  if (process.platform !== "win32" || path.extname(command) !== "") return [command];
  const exts = (env.PATHEXT ?? ".EXE;.CMD;.BAT;.COM").split(";").filter((ext) => ext !== "");
  return exts.map((ext) => command + ext);
}

/** "ok", "missing", or why the file cannot be executed. */
async function checkExecutable(file: string): Promise<string> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? "missing" : `${code}`;
  }
  if (info.isDirectory()) return "is a directory";
  if (!info.isFile()) return "not a regular file";
  if (process.platform === "win32") return "ok";
  try {
    await access(file, constants.X_OK);
    return "ok";
  } catch {
    return `mode ${(info.mode & 0o7777).toString(8).padStart(4, "0")}`;
  }
}

function notExecutable(file: string, why: string): RmxError {
  return new RmxError("BINARY_NOT_EXECUTABLE", `not executable: ${file} (${why})`, { path: file, why });
}
