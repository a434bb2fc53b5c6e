import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { isRmxError } from "../../base/errors.js";
import type { ChildHandle } from "../../daemon/process/child.js";
import { spawnChild, stopProcessGroup } from "../../daemon/process/child.js";
import { isProcessAlive, isSameProcess } from "../../daemon/process/identity.js";
import { HOLD_MS } from "../../daemon/process/line-framer.js";
import { RotatingLog } from "../../daemon/process/logs.js";
import { scripts, tempDir, waitFor } from "./fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;
let log: RotatingLog;
const spawned: number[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  log = new RotatingLog(path.join(dir, "child.log"), { max_bytes: 1 << 20, files: 2 });
});

afterEach(async () => {
  for (const pid of spawned.splice(0)) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {}
    }
  }
  await log.close();
  await cleanup();
});

async function node(
  script: string,
  extra: Partial<Parameters<typeof spawnChild>[0]> = {},
): Promise<ChildHandle> {
  const child = await spawnChild({ command: process.execPath, args: ["-e", script], env: {}, log, ...extra });
  spawned.push(child.pid);
  return child;
}

const hasLine = (text: string) => () => log.lastLines().includes(text);

describe("spawnChild", () => {
  it("runs the child in its own process group with a start-time identity, env merged onto process.env", async () => {
    const child = await node(
      `console.log(process.env.RMX_T + " " + typeof process.env.PATH); process.exit(0)`,
      {
        env: { RMX_T: "merged" },
      },
    );
    expect(child.pgid).toBe(child.pid);
    expect(child.startTime).toMatch(/\S/);
    const exit = await child.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(child.running).toBe(false);
    // `exited` waits for the output to drain, so the last line is already in the log.
    expect(log.lastLines()).toContain("merged string");
  });

  it("reports the exit code and stamps it with the injected clock", async () => {
    const clock = new ManualClock(1_234_000);
    const child = await node(`console.error("boom on stderr"); process.exit(3)`, { clock });
    expect(await child.exited).toEqual({ code: 3, signal: null, at: 1_234_000 });
    expect(log.lastLines()).toContain("boom on stderr");
  });

  it("reports the signal that killed the child, and stays identifiable while running", async () => {
    const child = await node(scripts.sleeper);
    await waitFor(hasLine("ready"), 10_000, "sleeper ready");
    expect(child.running).toBe(true);
    expect(await isSameProcess(child.pid, child.startTime)).toBe(true);
    process.kill(child.pid, "SIGUSR2");
    expect(await child.exited).toMatchObject({ code: null, signal: "SIGUSR2" });
  });

  it("rejects a missing binary with BINARY_NOT_FOUND naming the path", async () => {
    const missing = path.join(dir, "no-such-llama-server");
    const error = await spawnChild({ command: missing, args: [], env: {}, log }).catch((e: unknown) => e);
    expect(isRmxError(error, "BINARY_NOT_FOUND")).toBe(true);
    expect((error as Error).message).toBe(`binary not found: ${missing}`);
  });

  it("tells a missing working directory apart from a missing binary", async () => {
    const cwd = path.join(dir, "no-such-dir");
    const error = await spawnChild({ command: process.execPath, args: [], env: {}, cwd, log }).catch(
      (e: unknown) => e,
    );
    expect(isRmxError(error, "START_FAILED")).toBe(true);
    expect((error as Error).message).toBe(
      `cannot start ${process.execPath}: working directory not found: ${cwd}`,
    );
  });

  it("rejects a file without execute permission with BINARY_NOT_EXECUTABLE naming the path", async () => {
    const file = path.join(dir, "not-exec");
    await writeFile(file, "#!/bin/sh\necho hi\n");
    await chmod(file, 0o644);
    const error = await spawnChild({ command: file, args: [], env: {}, log }).catch((e: unknown) => e);
    expect(isRmxError(error, "BINARY_NOT_EXECUTABLE")).toBe(true);
    expect((error as Error).message).toContain(file);
  });
});

describe("the exit and the leader's last output", () => {
  /**
   * Writes `bytes` of numbered lines to stdout, then a last line on each stream, then exits 1 — once the
   * kernel has it all (a process.exit() with writes still queued would drop them: not ours to lose).
   */
  const lastWords = (bytes: number) => `
    const pad = "x".repeat(100);
    let block = "";
    for (let n = 0; block.length < ${bytes}; n++) block += "line " + n + " " + pad + "\\n";
    process.stdout.write(block);
    process.stdout.write("last stdout line\\n", () =>
      process.stderr.write("last stderr line\\n", () => process.exit(1)),
    );`;

  /**
   * When `exited` resolves, everything is in the log: the ring is the file's last lines, and nothing
   * comes after. Which pipe is read first is not defined (up to a pipe's worth of stdout is still unread
   * when the stderr line is written, more while the log is behind), so the stderr line may be among the
   * last 200 lines or before them; it is always whole in the file.
   */
  async function expectAllLogged(target: RotatingLog): Promise<void> {
    const ring = target.lastLines();
    expect(ring, `${ring.length} lines, last ${ring.at(-1)}`).toContain("last stdout line");
    await target.flush();
    const lines = (await readFile(target.path, "utf8")).split("\n");
    expect(lines.pop()).toBe("");
    expect(ring).toEqual(lines.slice(-ring.length));
    expect(lines).toContain("last stdout line");
    expect(lines).toContain("last stderr line");
    expect(lines.filter((l) => !/^line \d+ x{100}$/.test(l) && !l.startsWith("last "))).toEqual([]);
  }

  it.each([0, 60_000, 300_000, 3_000_000])(
    "after %i bytes, the last lines are in the log when exited resolves, each whole",
    async (bytes) => {
      const child = await node(lastWords(bytes));
      expect((await child.exited).code).toBe(1);
      // What the leader wrote before dying went through the log first (3 MB: the log falls behind, the
      // pipes are paused at the exit, and the exit waits for them).
      await expectAllLogged(log);
    },
  );

  it("a disk slower than the hold time: the exit waits for the paused pipes, and no line is cut", async () => {
    // Every write finds the disk behind and each catch-up takes longer than HOLD_MS, so the pipes stay
    // paused with a partial stdout line held for longer than a prompt would be.
    class SlowDisk extends RotatingLog {
      override write(chunk: Buffer | string): boolean {
        super.write(chunk);
        return false;
      }
      override async flush(): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, HOLD_MS * 2));
        await super.flush();
      }
    }
    const slow = new SlowDisk(path.join(dir, "slow.log"), { max_bytes: 1 << 22, files: 2 });
    try {
      const child = await node(lastWords(200_000), { log: slow });
      expect((await child.exited).code).toBe(1);
      await expectAllLogged(slow);
    } finally {
      await slow.close();
    }
  });

  it("a grandchild holding the pipes open: the exit comes, with the leader's last line in the log", async () => {
    const child = await node(`
      const { spawn } = require("node:child_process");
      const gc = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "inherit", detached: true });
      console.log("grandchild " + gc.pid);
      console.log("leader's last line");
      process.exit(1);`);
    expect((await child.exited).code).toBe(1);
    const lines = log.lastLines();
    const grandchild = Number(lines.find((l) => l.startsWith("grandchild "))?.split(" ")[1]);
    spawned.push(grandchild);
    expect(lines).toContain("leader's last line");
    // The pipes are still open (it holds them): the exit did not wait for them to close.
    expect(await isProcessAlive(grandchild)).toBe(true);
  });
});

describe("stopProcessGroup", () => {
  it("stops a cooperative child with the requested signal, no escalation", async () => {
    const child = await node(scripts.sleeper);
    await waitFor(hasLine("ready"), 10_000, "sleeper ready");
    const result = await stopProcessGroup(child, { signal: "SIGTERM", grace_ms: 10_000 });
    expect(result.escalated).toBe(false);
    expect(result.exit).toMatchObject({ code: null, signal: "SIGTERM" });
  });

  it("SIGKILLs a child that ignores SIGTERM once the grace period is over", async () => {
    const child = await node(scripts.termIgnorer);
    await waitFor(hasLine("ready"), 10_000, "ignorer ready");
    const result = await stopProcessGroup(child, { signal: "SIGTERM", grace_ms: 300 });
    expect(result.escalated).toBe(true);
    expect(result.exit).toMatchObject({ code: null, signal: "SIGKILL" });
    // It really received (and ignored) the TERM before being killed.
    expect(log.lastLines()).toContain("ignored TERM");
  });

  it("kills grandchildren that ignore the signal, even though the leader exited in time", async () => {
    const child = await node(scripts.withGrandchild);
    await waitFor(() => log.lastLines().some((l) => l.startsWith("grandchild ")), 10_000, "grandchild pid");
    const grandchild = Number(
      log
        .lastLines()
        .find((l) => l.startsWith("grandchild "))!
        .split(" ")[1],
    );
    spawned.push(grandchild);
    expect(await isProcessAlive(grandchild)).toBe(true);

    const result = await stopProcessGroup(child, { signal: "SIGTERM", grace_ms: 10_000 });
    expect(result.escalated).toBe(false);
    expect(result.exit?.signal).toBe("SIGTERM");
    await waitFor(async () => !(await isProcessAlive(grandchild)), 10_000, `grandchild ${grandchild} to die`);
  });

  it("stops a bare pid by polling, and treats an already-gone group as done", async () => {
    const child = await node(scripts.termIgnorer);
    await waitFor(hasLine("ready"), 10_000, "ignorer ready");
    const result = await stopProcessGroup({ pid: child.pid }, { signal: "SIGTERM", grace_ms: 200 });
    expect(result).toEqual({ escalated: true });
    expect((await child.exited).signal).toBe("SIGKILL");

    const again = await stopProcessGroup({ pid: child.pid }, { signal: "SIGTERM", grace_ms: 200 });
    expect(again).toEqual({ escalated: false });
  });
});
