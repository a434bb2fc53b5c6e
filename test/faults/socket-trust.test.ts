/**
 * Whether the socket's location can be trusted: directories above the private socket directory that
 * someone else could write (like sshd's StrictModes), a symbolic link where the socket should be, and a
 * socket put straight into /tmp. Ownership by another uid needs root to arrange (uid 65534, `nobody`);
 * elsewhere that case is skipped and its name says why.
 */
import { chmod, chown, lstat, mkdir, mkdtemp, readlink, rm, stat, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import { RpcServer } from "../../ipc/server.js";
import { prepareSocketDir } from "../../ipc/socket-path.js";
import { report } from "./fault-support.js";

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-trust-"));
  dirs.push(dir);
  return dir;
}

async function refusal(socketPath: string): Promise<Error & { code?: string }> {
  const error = await prepareSocketDir(socketPath, {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `prepareSocketDir(${socketPath}) was accepted`).toBeInstanceOf(Error);
  return error as Error & { code?: string };
}

function server(socketPath: string): RpcServer {
  return new RpcServer({
    socketPath,
    maxConnections: 4,
    maxLineBytes: 1024,
    subscriberQueue: 4,
    methods: {},
    bus: { subscribe: () => () => {} },
  });
}

describe("directories above the socket directory", () => {
  it.skipIf(!isRoot)("refuses one owned by nobody and writable by all (needs root)", async () => {
    const base = await tempDir();
    const shared = path.join(base, "shared");
    await mkdir(shared);
    await chown(shared, NOBODY, NOBODY);
    await chmod(shared, 0o777);
    const socketPath = path.join(shared, "private", "rmxd.sock");
    const error = await refusal(socketPath);
    report("ancestor owned by nobody", { message: error.message });
    expect(isRmxError(error, "SOCKET_UNSAFE")).toBe(true);
    expect(error.message).toContain(shared);
    expect(error.message).toContain("owned by uid 65534");
    expect(error.message).toContain("mode 0777");
    expect(error.message).toContain(`chown ${process.getuid!()} ${shared}`);
    await expect(server(socketPath).listen()).rejects.toMatchObject({ code: "SOCKET_UNSAFE" });
  });

  it("refuses one writable by others that is not sticky, naming the fix", async () => {
    const base = await tempDir();
    const open = path.join(base, "open");
    await mkdir(open);
    await chmod(open, 0o777);
    const error = await refusal(path.join(open, "private", "rmxd.sock"));
    report("ancestor writable by others", { message: error.message });
    expect(isRmxError(error, "SOCKET_UNSAFE")).toBe(true);
    expect(error.message).toContain(`${open}, above socket directory ${path.join(open, "private")}`);
    expect(error.message).toContain("mode 0777");
    expect(error.message).toContain(`chmod go-w ${open}`);
  });

  it("accepts a sticky shared directory above it, as /tmp is", async () => {
    const base = await tempDir();
    const sticky = path.join(base, "sticky");
    await mkdir(sticky);
    await chmod(sticky, 0o1777);
    const socketPath = path.join(sticky, "private", "rmxd.sock");
    await prepareSocketDir(socketPath, {});
    expect((await stat(path.dirname(socketPath))).mode & 0o777).toBe(0o700);
    const s = server(socketPath);
    await s.listen();
    await s.close();
  });
});

describe("the socket path itself", () => {
  it("says what a dangling symbolic link is and leaves it alone", async () => {
    const base = await tempDir();
    const run = path.join(base, "run");
    await mkdir(run, { mode: 0o700 });
    const socketPath = path.join(run, "rmxd.sock");
    const target = path.join(base, "gone.sock");
    await symlink(target, socketPath);
    const error = await server(socketPath)
      .listen()
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    report("dangling symlink", { message: error?.message });
    expect(isRmxError(error, "SOCKET_UNSAFE"), `got ${String(error)}`).toBe(true);
    expect(error!.message).toBe(
      `${socketPath} is a symbolic link to ${target}, which does not exist, not a socket; ` +
        `refusing to follow or replace it (remove it with: rm ${socketPath})`,
    );
    expect((await lstat(socketPath)).isSymbolicLink()).toBe(true);
    expect(await readlink(socketPath)).toBe(target);
  });

  it("advises a private subdirectory, not chmod, for a socket straight in /tmp", async () => {
    const tmp = "/tmp";
    const st = await stat(tmp);
    expect(st.mode & 0o1000, "/tmp is sticky here").not.toBe(0);
    const error = await refusal(path.join(tmp, `rmx-trust-${process.pid}.sock`));
    report("socket in /tmp", { message: error.message });
    expect(isRmxError(error, "SOCKET_UNSAFE")).toBe(true);
    expect(error.message).toContain("socket directory /tmp is shared");
    expect(error.message).toContain(`mode ${(st.mode & 0o7777).toString(8)}`);
    expect(error.message).toContain("private subdirectory");
    expect(error.message).toContain("XDG_RUNTIME_DIR");
    expect(error.message).not.toContain("chmod");
    expect((await stat(tmp)).mode).toBe(st.mode);
  });
});
