/**
 * Write failures are visible: a real ENOSPC (a 64 KiB tmpfs as the state dir, filled up) shows in
 * `runtime.status` problems and `rmx runtime status`, `runtime.restore` answers STATE_WRITE_FAILED
 * (effect in memory, not persisted), and the problem clears once space is freed and a write succeeds.
 * A read-only state dir names the real cause (EROFS), not "ENOENT: mkdir". Needs root and mount(2);
 * skipped otherwise, and the test name says why.
 *
 * Old code (main): restore answered ok while its write failed, status had no problems field, and the
 * read-only state dir failed with "ENOENT: no such file or directory, mkdir".
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isRmxError } from "../../base/errors.js";
import { stopAll } from "../support/daemon-harness.js";
import {
  configText,
  faultDir,
  removeDaemonDirs,
  report,
  startFaultDaemon,
  stubRuntime,
} from "./fault-support.js";

const mounts: string[] = [];

function canMount(): boolean {
  if (process.getuid?.() !== 0 || process.platform !== "linux") return false;
  return true;
}

function mountTmpfs(at: string, options: string): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", at]);
  mounts.push(at);
}

afterEach(async () => {
  await stopAll();
  for (const at of mounts.splice(0)) {
    try {
      execFileSync("umount", ["-l", at]);
    } catch {}
  }
  await removeDaemonDirs();
});

const maybe = canMount() ? it : it.skip;
const why = canMount() ? "" : " (skipped: needs root and mount(2) for a real tmpfs)";

/** Fills the file system holding `dir` until ENOSPC; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const filler = path.join(dir, "filler");
  const handle = await fs.open(filler, "w", 0o600);
  try {
    const block = Buffer.alloc(4096, 1);
    for (;;) await handle.write(block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    await handle.close();
  }
  return filler;
}

describe("trust: write failures", () => {
  maybe(
    `ENOSPC on the state dir is a daemon problem, restore says not persisted, and it clears${why}`,
    async () => {
      const dir = await faultDir();
      const stateDir = path.join(dir, "state");
      await fs.mkdir(stateDir, { mode: 0o700 });
      mountTmpfs(stateDir, "size=64k,mode=0700");
      const h = await startFaultDaemon({ dir, config: configText({ runtimes: [stubRuntime("r1")] }) });
      const c = await h.client();
      expect((await h.status()).problems).toEqual([]);

      const appeared = h.nextEvent("daemon.problems", (p: { problems: Array<{ code: string }> }) =>
        p.problems.some((x) => x.code === "STATE_WRITE_FAILED"),
      );
      const filler = await fill(stateDir);
      const error = await c.call("runtime.restore", { id: "r1" }).then(
        () => undefined,
        (e: unknown) => e as Error & { stableCode?: string },
      );
      await appeared;
      const status = await h.status();
      const cli = await h.cli(["runtime", "status"]);
      const stateProblem = status.problems?.find((p) => p.code === "STATE_WRITE_FAILED");
      report("ENOSPC", {
        restore: error?.message,
        problem: stateProblem,
        cli_header: cli.stdout.split("\n")[0],
      });
      expect(error, "runtime.restore answered ok although its state write failed").toBeDefined();
      expect(error?.stableCode ?? (isRmxError(error) ? error.code : undefined)).toBe("STATE_WRITE_FAILED");
      expect(error?.message).toContain("applied in memory but not persisted");
      expect(error?.message).toContain("no space left on device (ENOSPC)");
      expect(error?.message).toContain(path.join(stateDir, "state.json"));
      expect(stateProblem?.path).toBe(path.join(stateDir, "state.json"));
      expect(stateProblem?.message).toContain("ENOSPC");
      expect(cli.stdout.split("\n")[0]).toMatch(/daemon problems?$/);
      expect(cli.stdout).toContain("problem: STATE_WRITE_FAILED");

      const cleared = h.nextEvent("daemon.problems", (p: { problems: Array<{ code: string }> }) =>
        p.problems.every((x) => x.code !== "STATE_WRITE_FAILED"),
      );
      await fs.rm(filler);
      await c.call("runtime.stop", { id: "r1", wait: true });
      await cleared;
      const after = await h.status();
      report("ENOSPC freed", { problems: after.problems });
      expect(after.problems?.some((p) => p.code === "STATE_WRITE_FAILED")).toBe(false);
      const onDisk = JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8"));
      expect(onDisk.runtimes.r1.desired).toBe("stopped");
    },
  );

  maybe(`a read-only state dir names the real cause (EROFS)${why}`, async () => {
    const dir = await faultDir();
    const ro = path.join(dir, "ro");
    await fs.mkdir(ro, { mode: 0o700 });
    mountTmpfs(ro, "size=64k,mode=0700,ro");
    const error = await startFaultDaemon({ dir, env: { RMX_STATE_DIR: path.join(ro, "state") } }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    report("EROFS", { message: error?.message.split("\n").find((l) => l.includes("EROFS")) });
    expect(error?.message).toContain("read-only file system (EROFS)");
    expect(error?.message).toContain(path.join(ro, "state"));
    expect(error?.message).not.toContain("ENOENT");
  });
});
