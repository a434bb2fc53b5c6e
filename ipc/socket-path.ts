/**
 * Where the daemon's socket lives, and the checks that keep it private. Node built-ins only: the CLI
 * and the client import this without loading the daemon.
 */

import { connect } from "node:net";
import { dirname, join, posix, resolve, win32 } from "node:path";
import { RmxError } from "../base/errors.js";
import { lstat, mkdir, realpath, stat } from "../base/fs-async.js";

/** node:os is outside Node's start-up snapshot and only the fallbacks need it: loaded when they run. */
function os(): typeof import("node:os") {
  return process.getBuiltinModule("node:os");
}

export interface SocketLocationOptions {
  system?: boolean;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  uid?: number;
  username?: string;
  stateDir?: string;
  tmpdir?: string;
}

const PRODUCT_DIR = "runtime-matrix";
const SOCKET_NAME = "rmxd.sock";
const WINDOWS_PIPE_PREFIX = "\\\\.\\pipe\\";

export function isWindowsPipe(socketPath: string): boolean {
  return socketPath.startsWith(WINDOWS_PIPE_PREFIX) || socketPath.startsWith("//./pipe/");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== "" ? value : undefined;
}

function currentUid(): number {
  return typeof process.getuid === "function" ? process.getuid() : -1;
}

function currentUsername(): string {
  try {
    return os().userInfo().username;
  } catch {
    // No passwd entry (containers running as an arbitrary uid).
    return "";
  }
}

/**
 * The pipe name is derived from the user so two users on one Windows machine never collide (PM2's fixed
 * machine-wide pipe names do).
 */
function windowsPipeName(opts: SocketLocationOptions): string {
  if (opts.system) return `${WINDOWS_PIPE_PREFIX}${PRODUCT_DIR}`;
  const username = opts.username ?? currentUsername();
  const uid = opts.uid ?? currentUid();
  // Loaded here, not imported: node:crypto costs the CLI's every start a few ms, and only Windows needs it.
  const { createHash } = process.getBuiltinModule("node:crypto");
  const digest = createHash("sha256").update(`${username}${uid}`).digest("hex").slice(0, 16);
  return `${WINDOWS_PIPE_PREFIX}${PRODUCT_DIR}-${digest}`;
}

export function defaultStateDir(opts: SocketLocationOptions = {}): string {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const p = platform === "win32" ? win32 : posix;
  const explicit = nonEmpty(env.RMX_STATE_DIR);
  if (explicit !== undefined) return explicit;
  if (platform === "win32") {
    const base = opts.system
      ? (nonEmpty(env.ProgramData) ?? "C:\\ProgramData")
      : (nonEmpty(env.LOCALAPPDATA) ??
        p.join(nonEmpty(env.USERPROFILE) ?? os().homedir(), "AppData", "Local"));
    return p.join(base, PRODUCT_DIR);
  }
  if (opts.system) return "/var/lib/runtime-matrix";
  const xdg = nonEmpty(env.XDG_STATE_HOME);
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg !== undefined && p.isAbsolute(xdg)) return p.join(xdg, PRODUCT_DIR);
  const home = nonEmpty(env.HOME) ?? os().homedir();
  return p.join(home, ".local", "state", PRODUCT_DIR);
}

export function defaultSocketPath(opts: SocketLocationOptions = {}): string {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const explicit = nonEmpty(env.RMX_SOCKET);
  if (explicit !== undefined) return explicit;
  if (platform === "win32") return windowsPipeName(opts);
  const p = posix;
  if (opts.system) return "/run/runtime-matrix/rmxd.sock";
  if (platform === "darwin") {
    // os.tmpdir() on macOS is per user (/var/folders/…), unlike /tmp.
    return p.join(opts.tmpdir ?? os().tmpdir(), PRODUCT_DIR, SOCKET_NAME);
  }
  const runtimeDir = nonEmpty(env.XDG_RUNTIME_DIR);
  if (runtimeDir !== undefined && p.isAbsolute(runtimeDir))
    return p.join(runtimeDir, PRODUCT_DIR, SOCKET_NAME);
  const stateDir = opts.stateDir ?? defaultStateDir({ ...opts, env, platform });
  return p.join(stateDir, "run", SOCKET_NAME);
}

/** sun_path is 108 bytes on Linux and 104 on the BSDs/macOS, NUL included. */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === "linux" ? 107 : 103;
}

function octal(mode: number): string {
  const bits = mode & 0o7777;
  return bits > 0o777 ? bits.toString(8).padStart(4, "0") : `0${bits.toString(8).padStart(3, "0")}`;
}

/**
 * Creates the socket's directory (0700; 0750 in system mode) and refuses one that another user owns
 * or that group/others may write: whoever can write there can replace the socket and impersonate the
 * daemon.
 */
export async function prepareSocketDir(socketPath: string, opts: { system?: boolean }): Promise<void> {
  if (process.platform === "win32" || isWindowsPipe(socketPath)) return;
  const dir = dirname(resolve(socketPath));
  const mode = opts.system ? 0o750 : 0o700;
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (error) {
    throw new RmxError(
      "SOCKET_UNSAFE",
      `cannot create socket directory ${dir}: ${(error as Error).message}`,
      { dir },
      { cause: error },
    );
  }
  const st = await lstat(dir);
  if (st.isSymbolicLink()) {
    throw new RmxError("SOCKET_UNSAFE", `socket directory ${dir} is a symbolic link; refusing to use it`, {
      dir,
    });
  }
  if (!st.isDirectory()) {
    throw new RmxError("SOCKET_UNSAFE", `socket directory ${dir} exists and is not a directory`, { dir });
  }
  const uid = currentUid();
  const shared = (st.mode & 0o1000) !== 0;
  if (shared) {
    // A shared directory such as /tmp: tightening its mode would break every other user of it.
    throw new RmxError(
      "SOCKET_UNSAFE",
      `socket directory ${dir} is shared (owner uid ${st.uid}, mode ${octal(st.mode)}): anyone may create ` +
        `files there; refusing to put the socket in it (use a private subdirectory, e.g. ` +
        `RMX_SOCKET=${join(dir, `rmx-${uid === -1 ? "user" : uid}`, SOCKET_NAME)}, which rmxd creates 0700, ` +
        "or unset RMX_SOCKET to use $XDG_RUNTIME_DIR/runtime-matrix)",
      { dir, owner_uid: st.uid, mode: octal(st.mode) },
    );
  }
  if (uid !== -1 && st.uid !== uid) {
    throw new RmxError(
      "SOCKET_UNSAFE",
      `socket directory ${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}); refusing to use it ` +
        `(fix with: chown ${uid} ${dir}, or choose another RMX_SOCKET)`,
      { dir, owner_uid: st.uid, uid, mode: octal(st.mode) },
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new RmxError(
      "SOCKET_UNSAFE",
      `socket directory ${dir} has mode ${octal(st.mode)} (writable by group or others), owner uid ${st.uid}; ` +
        `refusing to use it (fix with: chmod ${octal(mode)} ${dir})`,
      { dir, owner_uid: st.uid, mode: octal(st.mode) },
    );
  }
  if (uid !== -1) await checkAncestors(dir, uid);
}

/**
 * Like sshd's StrictModes: every directory above the socket directory must be owned by us or root and
 * not writable by group or others unless sticky, or whoever can write there can rename our private
 * directory away and put their own in its place.
 */
async function checkAncestors(dir: string, uid: number): Promise<void> {
  let current = await realpath(dirname(dir));
  for (;;) {
    const st = await stat(current);
    const sticky = (st.mode & 0o1000) !== 0;
    const owner = `owner uid ${st.uid}, mode ${octal(st.mode)}${sticky ? " (sticky)" : ""}`;
    if (st.uid !== uid && st.uid !== 0) {
      throw new RmxError(
        "SOCKET_UNSAFE",
        `${current}, above socket directory ${dir}, is owned by uid ${st.uid}, neither this user (uid ${uid}) ` +
          `nor root (${owner}): its owner could replace the socket directory; refusing to use it ` +
          `(fix with: chown ${uid} ${current}, or choose a socket path under directories only you and root control)`,
        { dir, ancestor: current, owner_uid: st.uid, uid, mode: octal(st.mode) },
      );
    }
    if ((st.mode & 0o022) !== 0 && !sticky) {
      throw new RmxError(
        "SOCKET_UNSAFE",
        `${current}, above socket directory ${dir}, is writable by group or others and not sticky (${owner}): ` +
          `anyone who can write there could replace the socket directory; refusing to use it ` +
          `(fix with: chmod go-w ${current}, or chmod +t ${current} if it must stay shared)`,
        { dir, ancestor: current, owner_uid: st.uid, mode: octal(st.mode) },
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

export type SocketProbe = { state: "absent" } | { state: "stale" } | { state: "live"; pid?: number };

/**
 * Tells a running daemon from a socket file left behind by a dead one. Anything that accepts the
 * connection is live, even if it does not answer `daemon.hello` in time: only a refused connection
 * proves the file is stale and safe to unlink.
 */
export function probeSocket(socketPath: string, timeoutMs = 1000): Promise<SocketProbe> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let settled = false;
    let received = "";
    const finish = (result: SocketProbe | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => finish({ state: "live" }), timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      socket.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "daemon.hello" })}\n`);
    });
    socket.on("data", (chunk: string) => {
      received += chunk;
      const newline = received.indexOf("\n");
      if (newline === -1) {
        if (received.length > 1024 * 1024) finish({ state: "live" });
        return;
      }
      finish(parseHello(received.slice(0, newline)));
    });
    socket.on("end", () => finish({ state: "live" }));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return finish({ state: "absent" });
      if (error.code === "ECONNREFUSED") return finish({ state: "stale" });
      if (error.code === "ECONNRESET" || error.code === "EPIPE") return finish({ state: "live" });
      finish(
        new RmxError(
          "SOCKET_UNSAFE",
          `cannot probe socket ${socketPath}: ${error.code ?? error.message}`,
          { socket: socketPath, errno: error.code },
          { cause: error },
        ),
      );
    });
  });
}

function parseHello(line: string): SocketProbe {
  try {
    const msg = JSON.parse(line) as { result?: { pid?: unknown } };
    const pid = msg.result?.pid;
    return typeof pid === "number" && Number.isInteger(pid) ? { state: "live", pid } : { state: "live" };
  } catch {
    return { state: "live" };
  }
}
