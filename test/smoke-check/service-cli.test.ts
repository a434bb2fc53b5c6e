/**
 * The "done when": `rmx service install --user --dry-run` (the built CLI, end to end) prints a unit
 * that `systemd-analyze verify` accepts, and writes nothing. The same for `--system`.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const REPO = path.resolve(import.meta.dirname, "../..");
const RMX = path.join(REPO, "dist/ipc/cli/main.js");
// The entry the unit names: the bundle beside the CLI in dist/bin.
const RMXD = path.join(REPO, "dist/bin/rmxd.cjs");
const hasSystemdAnalyze =
  process.platform === "linux" && spawnSync("systemd-analyze", ["--version"]).status === 0;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rmx-service-cli-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rmx(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [RMX, ...args],
      { env: { ...env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : 1,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** The dry run prints "Would write PATH (dry run, nothing written):", a blank line, then the unit. */
function splitDryRun(stdout: string): { target: string; unit: string } {
  const match = /^Would write (.+) \(dry run, nothing written\):\n\n([\s\S]*)$/.exec(stdout);
  if (match === null) throw new Error(`unexpected dry-run output:\n${stdout}`);
  return { target: match[1] as string, unit: match[2] as string };
}

describe.skipIf(!hasSystemdAnalyze)("rmx service install --dry-run, through the built CLI", () => {
  it.each([
    ["--user", "systemd-user"],
    ["--system", "systemd-system"],
  ])("%s prints a unit that systemd-analyze verify accepts, and writes nothing", async (flag) => {
    expect(existsSync(RMX) && existsSync(RMXD), "build first (npx tsc -p tsconfig.json)").toBe(true);
    const home = path.join(dir, "home");
    const runtimeDir = path.join(dir, "xdg-runtime");
    await mkdir(home);
    await mkdir(runtimeDir, { mode: 0o700 });
    const env = {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, ".config"),
      XDG_RUNTIME_DIR: runtimeDir,
    };
    const config = path.join(dir, "my config.yaml");
    const run = await rmx(["service", "install", flag, "--dry-run", "--config", config], env);
    expect(run.code, run.stderr).toBe(0);
    const { target, unit } = splitDryRun(run.stdout);
    expect(target).toBe(
      flag === "--user"
        ? path.join(home, ".config", "systemd", "user", "rmxd.service")
        : "/etc/systemd/system/rmxd.service",
    );
    if (flag === "--user") expect(existsSync(target)).toBe(false);

    // The resolved paths of this install: this node, the built rmxd, the config.
    expect(unit).toMatch(/^Type=notify$/m);
    expect(unit).toMatch(/^NotifyAccess=all$/m);
    expect(unit).toMatch(/^WatchdogSec=\d+$/m);
    expect(unit).toMatch(/^KillMode=mixed$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? "";
    expect(execStart).toContain(process.execPath);
    expect(execStart).toContain(RMXD);
    expect(execStart).toContain(`--config "${config}"`);
    if (flag === "--system") expect(execStart).toContain("--system");

    const file = path.join(dir, "verify", "rmxd.service");
    await mkdir(path.dirname(file));
    await writeFile(file, unit);
    const verify = spawnSync("systemd-analyze", [...(flag === "--user" ? ["--user"] : []), "verify", file], {
      encoding: "utf8",
      env,
    });
    // verify exits 0 for many problems and only complains on stderr: any line about our unit fails the test.
    const complaints = verify.stderr.split("\n").filter((line) => line.includes("rmxd.service"));
    expect(complaints, verify.stderr).toEqual([]);
    expect(verify.status, verify.stderr).toBe(0);
  });

  it("the check above can fail: systemd-analyze complains about a broken ExecStart", async () => {
    const file = path.join(dir, "rmxd.service");
    await writeFile(file, "[Service]\nType=notify\nExecStart=relative/node main.js\nKillMode=sometimes\n");
    const verify = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    expect(verify.stderr.split("\n").filter((line) => line.includes("rmxd.service")).length).toBeGreaterThan(
      0,
    );
  });
});
