/**
 * Trust boundaries for the paths rmxd reads its instructions from and writes its state to, drawn the way
 * sshd's StrictModes and systemd draw them: the path and every parent up to a root-owned or sticky dir
 * belong to the daemon's user (or root) and are not writable by anyone else. Otherwise another user
 * could swap the file or plant a symlink and make the daemon read their config or write through it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { type ErrorCode, RmxError } from "./errors.js";
import { lstat, mkdir, realpath } from "./fs-async.js";
import { errnoText } from "./fs-errors.js";

export interface TrustPolicy {
  /** The daemon's uid; root (0) is trusted as owner too. */
  uid: number;
  /** A group allowed to have write access to directories (system mode's `ipc.socket_group`), by gid. */
  writableGroup?: number;
}

const S_IWGRP = 0o020;
const S_IWOTH = 0o002;
const S_ISVTX = 0o1000;

export type TrustedKind = "directory" | "file";

/** Name for a uid from /etc/passwd, or undefined (no NSS from Node: local accounts only). */
export function userName(uid: number): string | undefined {
  return idName("/etc/passwd", uid);
}

export function groupName(gid: number): string | undefined {
  return idName("/etc/group", gid);
}

/** The gid of a group given by number or by name (/etc/group), or undefined if there is none. */
export function groupId(group: string): number | undefined {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const [name, , num] = line.split(":");
      if (name === group && num !== undefined && /^\d+$/.test(num)) return Number(num);
    }
  } catch {
    // No group database: no group is exempt.
  }
  return undefined;
}

function idName(file: string, id: number): string | undefined {
  try {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const [name, , num] = line.split(":");
      if (name && num !== undefined && Number(num) === id) return name;
    }
  } catch {
    // Unreadable account database: the uid alone is still named.
  }
  return undefined;
}

function owner(uid: number): string {
  const name = userName(uid);
  return name === undefined ? `uid ${uid}` : `${name} (uid ${uid})`;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}

function untrusted(
  what: string,
  p: string,
  st: { uid: number; gid: number; mode: number },
  why: string,
  fix: string,
): RmxError {
  return new RmxError(
    "PATH_UNTRUSTED",
    `${what} ${p} is not trusted: ${why} (owner ${owner(st.uid)}, mode ${octal(st.mode)}); fix: ${fix}`,
    { path: p, owner_uid: st.uid, owner: userName(st.uid), mode: octal(st.mode), fix },
  );
}

function chownFix(p: string, policy: TrustPolicy): string {
  return policy.uid === 0 ? `chown root ${p}` : `chown $USER ${p}`;
}

/** The reason `st` is not acceptable at `p`, or undefined. Group write only for dirs of `writableGroup`. */
function checkStat(
  what: string,
  p: string,
  st: { uid: number; gid: number; mode: number },
  isDir: boolean,
  policy: TrustPolicy,
): RmxError | undefined {
  if (st.uid !== policy.uid && st.uid !== 0) {
    const fix = chownFix(p, policy);
    const allowed = policy.uid === 0 ? "root" : `${owner(policy.uid)} or root`;
    return untrusted(what, p, st, `owned by another user, not by ${allowed}`, fix);
  }
  if ((st.mode & S_IWOTH) !== 0) {
    return untrusted(what, p, st, "writable by every user", `chmod go-w ${p}`);
  }
  const groupOk = isDir && policy.writableGroup !== undefined && st.gid === policy.writableGroup;
  if ((st.mode & S_IWGRP) !== 0 && !groupOk) {
    const group = groupName(st.gid) ?? `gid ${st.gid}`;
    return untrusted(what, p, st, `writable by group ${group}`, `chmod go-w ${p}`);
  }
  return undefined;
}

/**
 * Throws PATH_UNTRUSTED unless `p` (not a symlink) and its parents up to a root-owned or sticky dir
 * are owned by the daemon's user or root and not writable by others. `what` names the path's role.
 */
export async function assertTrusted(
  what: string,
  p: string,
  kind: TrustedKind,
  policy: TrustPolicy,
): Promise<void> {
  const abs = path.resolve(p);
  const st = await lstatOrThrow(what, abs);
  if (st.isSymbolicLink()) {
    throw untrusted(what, abs, st, "it is a symbolic link", `replace the link with a real ${kind}`);
  }
  if (kind === "directory" ? !st.isDirectory() : !st.isFile()) {
    throw new RmxError("PATH_UNTRUSTED", `${what} ${abs} is not a ${kind}`, { path: abs });
  }
  const leaf = checkStat(what, abs, st, kind === "directory", policy);
  if (leaf) throw leaf;
  // Parents are resolved (a symlinked /tmp or /var is the system's, not an attacker's leaf).
  let dir = await realpath(path.dirname(abs));
  for (;;) {
    const ds = await lstatOrThrow(`parent of ${what}`, dir);
    if ((ds.mode & S_ISVTX) !== 0) return; // /tmp: others cannot rename or replace what is ours in it
    const problem = checkStat(`parent of ${what}`, dir, ds, true, policy);
    if (problem) throw problem;
    if (ds.uid === 0) return;
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * Creates `dir` (and missing parents) 0700, one level at a time so the real cause of a failure
 * (read-only file system, permission denied) is reported for the level that failed, then checks it.
 */
export async function ensureTrustedDir(what: string, dir: string, policy: TrustPolicy): Promise<void> {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let at = abs; ; at = path.dirname(at)) {
    try {
      await lstat(at);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || path.dirname(at) === at) {
        throw fsFailure("PATH_UNTRUSTED", `cannot inspect ${what}`, at, error);
      }
      missing.unshift(at);
    }
  }
  for (const level of missing) {
    try {
      await mkdir(level, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw fsFailure("STATE_WRITE_FAILED", `cannot create ${what}`, level, error);
    }
  }
  await assertTrusted(what, abs, "directory", policy);
}

async function lstatOrThrow(what: string, p: string) {
  try {
    return await lstat(p);
  } catch (error) {
    throw fsFailure("PATH_UNTRUSTED", `cannot inspect ${what}`, p, error);
  }
}

/** An RmxError whose message names the real cause of a file-system failure and the path. */
export function fsFailure(code: ErrorCode, doing: string, p: string, error: unknown): RmxError {
  const errno = (error as NodeJS.ErrnoException).code;
  return new RmxError(
    code,
    `${doing} ${p}: ${errnoText(error)}`,
    { path: p, ...(errno === undefined ? {} : { errno }) },
    { cause: error },
  );
}

/** Who may own and write the daemon's dirs: this user or root, and in system mode `ipc.socket_group` too. */
export function trustPolicyFor(socketGroup: string | undefined): TrustPolicy {
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  const gid = socketGroup === undefined ? undefined : groupId(socketGroup);
  return gid === undefined ? { uid } : { uid, writableGroup: gid };
}
