/**
 * The asynchronous file system calls of everything rmxd runs, as promises over node:fs's callback API,
 * with the same signatures, results and errors as node:fs/promises: the daemon never loads that module.
 *
 * Why: on Node 24 node:fs/promises loads, as it starts, readline's interface and its helpers, the
 * REPL's history, fs.Dir and the file watchers (for FileHandle.readLines, opendir, watch), none of
 * which rmxd uses. Measured in a node that has loaded http and child_process: 1.1 MiB of RSS on Node
 * 24 (0.4 anonymous, 0.7 of the binary's pages), 0.2 on Node 20; in rmxd with 50 probed runtimes and
 * the gateway on, alternating runs on Node 24: 60.5-60.6 → 60.0-60.1 MiB. test/build/bundle.test.ts
 * refuses a daemon bundle that takes node:fs/promises.
 *
 * `open` gives a FileHandle with the methods rmxd uses; unlike node:fs/promises' it has no finalizer
 * that closes a forgotten descriptor, so every caller closes it in a `finally`.
 */
import fs, { type PathLike, type Stats } from "node:fs";
import type * as fsp from "node:fs/promises";
import { promisify } from "node:util";

export const access = promisify(fs.access) as typeof fsp.access;
export const chmod = promisify(fs.chmod) as typeof fsp.chmod;
export const chown = promisify(fs.chown) as typeof fsp.chown;
export const link = promisify(fs.link) as typeof fsp.link;
export const lstat = promisify(fs.lstat) as typeof fsp.lstat;
export const mkdir = promisify(fs.mkdir) as typeof fsp.mkdir;
export const readdir = promisify(fs.readdir) as typeof fsp.readdir;
export const readFile = promisify(fs.readFile) as typeof fsp.readFile;
export const readlink = promisify(fs.readlink) as typeof fsp.readlink;
export const realpath = promisify(fs.realpath) as typeof fsp.realpath;
export const rename = promisify(fs.rename) as typeof fsp.rename;
export const rmdir = promisify(fs.rmdir) as typeof fsp.rmdir;
export const stat = promisify(fs.stat) as typeof fsp.stat;
export const unlink = promisify(fs.unlink) as typeof fsp.unlink;
export const writeFile = promisify(fs.writeFile) as typeof fsp.writeFile;

const close = promisify(fs.close);
const fstat = promisify(fs.fstat);
const fsync = promisify(fs.fsync);
const openFd = promisify(fs.open);
const readFd = promisify(fs.read);
const writeFd = promisify(fs.write);
// On a descriptor: the exported readFile and writeFile are typed for paths and FileHandles.
const readFileFd = promisify(fs.readFile);
const writeFileFd = promisify(fs.writeFile);

/** An open file: the part of node:fs/promises' FileHandle that rmxd uses, on a plain descriptor. */
export class FileHandle {
  constructor(readonly fd: number) {}

  stat(): Promise<Stats> {
    return fstat(this.fd) as Promise<Stats>;
  }

  /** Reads up to `length` bytes into `buffer` at `offset`, from `position` (null: the file's current one). */
  read<T extends NodeJS.ArrayBufferView>(
    buffer: T,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number; buffer: T }> {
    return readFd(this.fd, buffer, offset, length, position);
  }

  /** Writes `length` bytes of `buffer` from `offset`, at the file's current position (or its end, with O_APPEND). */
  write<T extends NodeJS.ArrayBufferView>(
    buffer: T,
    offset: number,
    length: number,
  ): Promise<{ bytesWritten: number; buffer: T }> {
    return writeFd(this.fd, buffer, offset, length, null);
  }

  /** All of `data`, from the current position (fs.writeFile on a descriptor loops over short writes). */
  writeFile(data: string | NodeJS.ArrayBufferView): Promise<void> {
    return writeFileFd(this.fd, data);
  }

  /** The rest of the file from the current position, decoded. */
  readFile(encoding: BufferEncoding): Promise<string> {
    return readFileFd(this.fd, encoding);
  }

  sync(): Promise<void> {
    return fsync(this.fd);
  }

  close(): Promise<void> {
    return close(this.fd);
  }
}

/** node:fs/promises' `open`: the descriptor in a FileHandle. */
export async function open(file: PathLike, flags?: string | number, mode?: number): Promise<FileHandle> {
  return new FileHandle(await openFd(file, flags ?? "r", mode ?? 0o666));
}
