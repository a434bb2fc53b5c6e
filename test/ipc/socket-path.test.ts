import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, chown, mkdir, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import { defaultSocketPath, defaultStateDir, prepareSocketDir, probeSocket } from "../../ipc/socket-path.js";
import { makeTempDir, startServer, type TestServer } from "./helpers.js";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("defaultSocketPath", () => {
  const linux = { platform: "linux" as const, uid: 1000, username: "ada" };

  it("prefers RMX_SOCKET over everything", () => {
    expect(defaultSocketPath({ ...linux, system: true, env: { RMX_SOCKET: "/x/y.sock" } })).toBe("/x/y.sock");
    expect(defaultSocketPath({ platform: "win32", env: { RMX_SOCKET: "\\\\.\\pipe\\mine" } })).toBe(
      "\\\\.\\pipe\\mine",
    );
  });

  it("uses /run for the system daemon", () => {
    expect(defaultSocketPath({ ...linux, system: true, env: { XDG_RUNTIME_DIR: "/run/user/1000" } })).toBe(
      "/run/runtime-matrix/rmxd.sock",
    );
  });

  it("uses XDG_RUNTIME_DIR for a Linux user, else the state directory", () => {
    expect(defaultSocketPath({ ...linux, env: { XDG_RUNTIME_DIR: "/run/user/1000" } })).toBe(
      "/run/user/1000/runtime-matrix/rmxd.sock",
    );
    expect(defaultSocketPath({ ...linux, env: { HOME: "/home/ada" } })).toBe(
      "/home/ada/.local/state/runtime-matrix/run/rmxd.sock",
    );
    expect(defaultSocketPath({ ...linux, env: { XDG_STATE_HOME: "/srv/state", HOME: "/home/ada" } })).toBe(
      "/srv/state/runtime-matrix/run/rmxd.sock",
    );
    expect(defaultSocketPath({ ...linux, env: { RMX_STATE_DIR: "/var/rmx" } })).toBe(
      "/var/rmx/run/rmxd.sock",
    );
    expect(defaultSocketPath({ ...linux, env: {}, stateDir: "/opt/s" })).toBe("/opt/s/run/rmxd.sock");
    // Relative XDG values are invalid by the spec and ignored.
    expect(defaultSocketPath({ ...linux, env: { XDG_RUNTIME_DIR: "run", HOME: "/home/ada" } })).toBe(
      "/home/ada/.local/state/runtime-matrix/run/rmxd.sock",
    );
  });

  it("uses the per-user temp directory on macOS", () => {
    expect(defaultSocketPath({ platform: "darwin", env: {}, tmpdir: "/var/folders/ab/T" })).toBe(
      "/var/folders/ab/T/runtime-matrix/rmxd.sock",
    );
  });

  it("derives a per-user pipe name on Windows so two users never collide", () => {
    const a = defaultSocketPath({ platform: "win32", env: {}, username: "ada", uid: -1 });
    const b = defaultSocketPath({ platform: "win32", env: {}, username: "bob", uid: -1 });
    const digest = createHash("sha256").update("ada-1").digest("hex").slice(0, 16);
    expect(a).toBe(`\\\\.\\pipe\\runtime-matrix-${digest}`);
    expect(b).not.toBe(a);
    expect(a).toMatch(/^\\\\\.\\pipe\\runtime-matrix-[0-9a-f]{16}$/);
  });
});

describe("defaultStateDir", () => {
  it("follows RMX_STATE_DIR, system mode, then XDG", () => {
    expect(defaultStateDir({ platform: "linux", env: { RMX_STATE_DIR: "/s" }, system: true })).toBe("/s");
    expect(defaultStateDir({ platform: "linux", env: {}, system: true })).toBe("/var/lib/runtime-matrix");
    expect(defaultStateDir({ platform: "linux", env: { XDG_STATE_HOME: "/x" } })).toBe("/x/runtime-matrix");
    expect(defaultStateDir({ platform: "darwin", env: { HOME: "/Users/ada" } })).toBe(
      "/Users/ada/.local/state/runtime-matrix",
    );
    expect(
      defaultStateDir({ platform: "win32", env: { LOCALAPPDATA: "C:\\Users\\ada\\AppData\\Local" } }),
    ).toBe("C:\\Users\\ada\\AppData\\Local\\runtime-matrix");
  });
});

describe("prepareSocketDir", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it("creates missing directories with mode 0700", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "a", "b", "rmxd.sock");
    await prepareSocketDir(socketPath, {});
    const st = await stat(path.dirname(socketPath));
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
  });

  it("accepts an existing directory that only its owner may write", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    await chmod(dir, 0o755);
    await expect(prepareSocketDir(path.join(dir, "rmxd.sock"), {})).resolves.toBeUndefined();
  });

  it("refuses a directory writable by others, naming the mode and the fix", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    await chmod(dir, 0o777);
    const error = await prepareSocketDir(path.join(dir, "rmxd.sock"), {}).catch((e: unknown) => e);
    expect(isRmxError(error, "SOCKET_UNSAFE")).toBe(true);
    expect((error as Error).message).toContain(`socket directory ${dir} has mode 0777`);
    expect((error as Error).message).toContain(`chmod 0700 ${dir}`);
  });

  it("refuses a group-writable directory", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    await chmod(dir, 0o770);
    await expect(prepareSocketDir(path.join(dir, "rmxd.sock"), {})).rejects.toThrow(/mode 0770/);
  });

  it("refuses a path whose directory is a file", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    await writeFile(path.join(dir, "file"), "");
    await expect(prepareSocketDir(path.join(dir, "file", "rmxd.sock"), {})).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
    });
  });

  it.skipIf(!isRoot)("refuses a directory owned by another uid (needs root to chown)", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const sub = path.join(dir, "theirs");
    await mkdir(sub, { mode: 0o700 });
    await chown(sub, 65534, 65534);
    await expect(prepareSocketDir(path.join(sub, "rmxd.sock"), {})).rejects.toThrow(
      /is owned by uid 65534, not by this user \(uid 0\)/,
    );
  });
});

describe("probeSocket", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it("reports a missing socket as absent", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    expect(await probeSocket(path.join(dir, "none.sock"))).toEqual({ state: "absent" });
  });

  it("reports the socket of a killed process as stale", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "dead.sock");
    const child: ChildProcess = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => console.log("up"))`],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanups.push(() => {
      child.kill("SIGKILL");
    });
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    expect((await probeSocket(socketPath)).state).toBe("live");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    expect((await stat(socketPath)).isSocket()).toBe(true);
    expect(await probeSocket(socketPath)).toEqual({ state: "stale" });
  });

  it("reports a daemon that answers daemon.hello as live with its pid", async () => {
    const ts: TestServer = await startServer();
    cleanups.push(() => ts.stop());
    expect(await probeSocket(ts.socketPath)).toEqual({ state: "live", pid: process.pid });
  });

  it("reports a listener that never answers as live (never unlinked), after the timeout", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const socketPath = path.join(dir, "mute.sock");
    // Reads and ignores: accepted, never answered.
    const mute = net.createServer((s) => s.resume());
    await new Promise<void>((resolve) => mute.listen(socketPath, resolve));
    cleanups.push(() => new Promise<void>((resolve) => mute.close(() => resolve())));
    expect(await probeSocket(socketPath, 50)).toEqual({ state: "live" });
  });
});
