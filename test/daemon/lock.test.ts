/** The state-dir lock: stale files never block, a live holder always does, and racing starts yield one winner. */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { acquireDaemonLock } from "../../daemon/lock.js";
import { processStartTime } from "../../daemon/process/identity.js";
import { REPO, tempDir, until } from "../support/daemon-harness.js";

const dirs: string[] = [];
const procs = new Set<ChildProcess>();
async function newDir() {
  const d = await tempDir("rmx-lock-");
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const p of procs) p.kill("SIGKILL");
  procs.clear();
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A node process that takes the lock from the compiled module and reports "won" or the error code. */
function contender(stateDir: string) {
  const lockModule = path.join(REPO, "dist/daemon/lock.js");
  const script = `
    const { acquireDaemonLock } = await import(${JSON.stringify(lockModule)});
    try { await acquireDaemonLock(${JSON.stringify(stateDir)}); console.log("won"); }
    catch (e) { console.log(e.code ?? e.message); }
    setInterval(() => {}, 1e6);`;
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  procs.add(proc);
  let out = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  return { proc, result: () => out.trim() };
}

describe("acquireDaemonLock", () => {
  it("takes an empty dir, writes pid and start time, and releases", async () => {
    const dir = await newDir();
    const lock = await acquireDaemonLock(dir);
    const content = JSON.parse(await fs.readFile(lock.file, "utf8"));
    expect(content, JSON.stringify(content)).toEqual({
      pid: process.pid,
      start_time: (await processStartTime(process.pid)) ?? "",
    });
    await lock.release();
    await expect(fs.stat(lock.file), "released").rejects.toThrow(/ENOENT/);
    expect(
      (await fs.readdir(dir)).filter((f) => f.startsWith(".rmxd.pid")),
      "no temp file left",
    ).toEqual([]);
  });

  it("replaces a stale file (dead pid) and a garbage one", async () => {
    const dir = await newDir();
    const dead = spawn(process.execPath, ["-e", "0"]);
    const deadPid = dead.pid as number;
    await new Promise((r) => dead.once("exit", r));
    await fs.writeFile(path.join(dir, "rmxd.pid"), JSON.stringify({ pid: deadPid, start_time: "123" }));
    const lock = await acquireDaemonLock(dir);
    expect(JSON.parse(await fs.readFile(lock.file, "utf8")).pid).toBe(process.pid);
    await lock.release();
    await fs.writeFile(path.join(dir, "rmxd.pid"), "{not json");
    const again = await acquireDaemonLock(dir);
    expect(JSON.parse(await fs.readFile(again.file, "utf8")).pid).toBe(process.pid);
    await again.release();
  });

  it("refuses while another live process holds it, naming its pid", async () => {
    const dir = await newDir();
    const holder = contender(dir);
    await until(() => holder.result() === "won", 10_000, "the holder to take the lock");
    const error = await acquireDaemonLock(dir).catch((e: unknown) => e);
    expect(String(error), String(error)).toContain(`already running (pid ${holder.proc.pid}`);
  });

  it("four daemons starting at once: exactly one takes the lock", async () => {
    const dir = await newDir();
    const racers = [0, 1, 2, 3].map(() => contender(dir));
    await until(() => racers.every((r) => r.result() !== ""), 10_000, "every contender to finish");
    const results = racers.map((r) => r.result());
    expect(
      results.filter((r) => r === "won"),
      `results: ${results.join(", ")}`,
    ).toHaveLength(1);
    expect(
      results.filter((r) => r === "ALREADY_RUNNING"),
      `results: ${results.join(", ")}`,
    ).toHaveLength(3);
  });
});
