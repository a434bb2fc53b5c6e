/**
 * Trust boundaries (sshd StrictModes): rmxd refuses a state dir or config another user owns or may
 * write, naming the path, owner, mode and fix, and never appends a log through a planted symlink.
 * Foreign ownership needs root (chown to nobody); elsewhere those tests are skipped and say why.
 *
 * Old code (main): every one of these started (exit 0, state dir 0777 accepted; config owned by nobody
 * accepted) and the planted log link grew its root-only target by the backend's output.
 */
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, stopAll } from "../support/daemon-harness.js";
import {
  configText,
  faultDir,
  removeDaemonDirs,
  report,
  startFaultDaemon,
  stubRuntime,
} from "./fault-support.js";

const isRoot = process.getuid?.() === 0;
const rootOnly = isRoot ? it : it.skip;
const NOBODY = 65534;

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

/** Starts rmxd expecting a start-up refusal; returns its stderr. */
async function refusal(opts: Parameters<typeof startFaultDaemon>[0]): Promise<string> {
  const error = await startFaultDaemon(opts).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error, "rmxd started although it should have refused").toBeDefined();
  return error!.message;
}

function refusalLine(stderr: string): { code?: string; msg: string; data?: Record<string, unknown> } {
  const line = stderr
    .split("\n")
    .filter((l) => l.includes("PATH_UNTRUSTED"))
    .at(0);
  expect(line, `no PATH_UNTRUSTED line in:\n${stderr}`).toBeDefined();
  return JSON.parse(line!) as { code?: string; msg: string; data?: Record<string, unknown> };
}

describe("trust: state dir", () => {
  it("a state dir mode 0777 is refused with path, owner, mode and the chmod fix", async () => {
    const dir = await faultDir();
    const stateDir = path.join(dir, "state");
    await fs.mkdir(stateDir);
    await fs.chmod(stateDir, 0o777);
    const line = refusalLine(await refusal({ dir }));
    report("state dir 0777", { code: line.code, msg: line.msg });
    expect(line.code).toBe("PATH_UNTRUSTED");
    expect(line.msg).toContain(stateDir);
    expect(line.msg).toContain("mode 0777");
    expect(line.msg).toMatch(/owner \S+ \(uid \d+\)/);
    expect(line.msg).toContain(`chmod go-w ${stateDir}`);
  });

  rootOnly("a state dir owned by nobody is refused naming the owner and the chown fix", async () => {
    const dir = await faultDir();
    const stateDir = path.join(dir, "state");
    await fs.mkdir(stateDir, { mode: 0o700 });
    await fs.chown(stateDir, NOBODY, NOBODY);
    const line = refusalLine(await refusal({ dir }));
    report("state dir owned by nobody", { msg: line.msg });
    expect(line.msg).toContain(stateDir);
    expect(line.msg).toContain(`(uid ${NOBODY})`);
    expect(line.msg).toContain("mode 0700");
    expect(line.msg).toContain(`chown root ${stateDir}`);
    expect(line.data?.owner_uid).toBe(NOBODY);
  });

  it("a symlink as the state dir is refused", async () => {
    const dir = await faultDir();
    await fs.mkdir(path.join(dir, "real"), { mode: 0o700 });
    await fs.symlink(path.join(dir, "real"), path.join(dir, "state"));
    const line = refusalLine(await refusal({ dir }));
    expect(line.msg).toContain("symbolic link");
  });

  it("a missing state dir is created 0700 (and its logs dir) and accepted", async () => {
    const h = await startFaultDaemon({ config: configText({ runtimes: [stubRuntime("r1")] }) });
    expect((await fs.stat(h.stateDir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(h.stateDir, "logs"))).mode & 0o777).toBe(0o700);
    expect((await h.status()).problems).toEqual([]);
  });
});

describe("trust: config file", () => {
  async function configAt(dir: string, mode: number, uid?: number): Promise<string> {
    const file = path.join(dir, "foreign.yaml");
    await fs.writeFile(file, configText({ runtimes: [stubRuntime("r1")] }));
    await fs.chmod(file, mode);
    if (uid !== undefined) await fs.chown(file, uid, uid);
    return file;
  }

  it("a config writable by everyone (0666) is refused by rmxd and by rmx config check", async () => {
    const dir = await faultDir();
    const file = await configAt(dir, 0o666);
    const line = refusalLine(await refusal({ dir, env: { RMX_CONFIG: file } }));
    report("config 0666", { msg: line.msg });
    expect(line.msg).toContain(file);
    expect(line.msg).toContain("mode 0666");
    expect(line.msg).toContain(`chmod go-w ${file}`);
    const check = await runCli(["config", "check", file]);
    report("rmx config check 0666", { code: check.code, stderr: check.stderr.trim() });
    expect(check.code).not.toBe(0);
    expect(check.stderr).toContain("PATH_UNTRUSTED");
    expect(check.stderr).toContain(`chmod go-w ${file}`);
  });

  it("rmx config check --json reports an untrusted config as issues, like an invalid one", async () => {
    const dir = await faultDir();
    const file = await configAt(dir, 0o666);
    const check = await runCli(["--json", "config", "check", file]);
    report("rmx config check --json 0666", { code: check.code, stdout: check.stdout.trim() });
    expect(check.code).toBe(1);
    expect(JSON.parse(check.stdout)).toEqual({
      ok: false,
      source: file,
      issues: [
        {
          code: "PATH_UNTRUSTED",
          message: expect.stringContaining(`${file} is not trusted: writable by every user`),
          path: file,
          fix: `chmod go-w ${file}`,
        },
      ],
    });
    // The same envelope as an invalid file.
    await fs.chmod(file, 0o644);
    await fs.writeFile(file, "ipc: { max_batch: 0 }\nruntimes: []\n");
    const invalid = await runCli(["--json", "config", "check", file]);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout)).toMatchObject({
      ok: false,
      source: file,
      issues: [{ path: "ipc.max_batch", message: "expected a positive integer, got 0" }],
    });
  });

  rootOnly("a config owned by nobody is refused naming the owner", async () => {
    const dir = await faultDir();
    const file = await configAt(dir, 0o644, NOBODY);
    const line = refusalLine(await refusal({ dir, env: { RMX_CONFIG: file } }));
    report("config owned by nobody", { msg: line.msg });
    expect(line.msg).toContain(`(uid ${NOBODY})`);
    expect(line.msg).toContain(`chown root ${file}`);
  });

  it("a config in a parent dir writable by everyone is refused naming that dir", async () => {
    const dir = await faultDir();
    const open = path.join(dir, "open");
    await fs.mkdir(open);
    await fs.chmod(open, 0o777);
    const file = await configAt(open, 0o644);
    const check = await runCli(["config", "check", file]);
    expect(check.code).not.toBe(0);
    expect(check.stderr).toContain(`parent of config file ${open}`);
  });
});

describe("trust: logs", () => {
  rootOnly(
    "a symlink planted at logs/<id>.log is not followed: the root-only target is untouched",
    async () => {
      const dir = await faultDir();
      const logs = path.join(dir, "state", "logs");
      await fs.mkdir(logs, { recursive: true, mode: 0o700 });
      const target = path.join(dir, "root-only.txt");
      await fs.writeFile(target, "secret\n", { mode: 0o600 });
      await fs.symlink(target, path.join(logs, "r1.log"));
      const h = await startFaultDaemon({
        dir,
        config: configText({ runtimes: [stubRuntime("r1")] }),
      });
      const problem = h.nextEvent("daemon.problems", (p: { problems: Array<{ code: string }> }) =>
        p.problems.some((x) => x.code === "LOG_WRITE_FAILED"),
      );
      const c = await h.client();
      await c.call("runtime.start", { id: "r1", wait: true });
      await problem;
      const status = await h.status();
      const text = readFileSync(target, "utf8");
      report("planted log symlink", { target_bytes: Buffer.byteLength(text), problems: status.problems });
      expect(text).toBe("secret\n");
      expect((await fs.lstat(path.join(logs, "r1.log"))).isSymbolicLink()).toBe(true);
      const logProblem = status.problems?.find((p) => p.code === "LOG_WRITE_FAILED");
      expect(logProblem?.path).toBe(path.join(logs, "r1.log"));
      expect(logProblem?.message).toContain("symbolic link");
    },
  );
});
