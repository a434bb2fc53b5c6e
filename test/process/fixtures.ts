import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Polls `cond` until it holds or the deadline passes (then throws with `what`). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-process-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Child scripts for `node -e`. Each prints a marker once its signal handlers are in place. */
export const scripts = {
  /** Stays up; exits normally on SIGTERM. */
  sleeper: `console.log("ready"); setInterval(() => {}, 1000);`,
  /** Traps SIGTERM and ignores it: only SIGKILL stops it. */
  termIgnorer: `process.on("SIGTERM", () => console.log("ignored TERM")); console.log("ready"); setInterval(() => {}, 1000);`,
  /** Spawns a TERM-ignoring grandchild in its own group, prints `grandchild <pid>` once it is ready. */
  withGrandchild: `
    const { spawn } = require("node:child_process");
    const gc = spawn(process.execPath, ["-e",
      'process.on("SIGTERM", () => {}); console.log("grandchild-ready"); setInterval(() => {}, 1000);'],
      { stdio: ["ignore", "pipe", "inherit"] });
    gc.stdout.once("data", () => { console.log("grandchild " + gc.pid); gc.stdout.resume(); });
    setInterval(() => {}, 1000);`,
  /** Writes numbered lines as fast as the pipe takes them, then "done". argv[1] = total bytes. */
  flood: `
    const total = Number(process.argv[1]);
    let written = 0, n = 0;
    const pad = "x".repeat(80);
    function pump() {
      while (written < total) {
        let block = "";
        while (block.length < 65536) block += "line " + (n++) + " " + pad + "\\n";
        written += block.length;
        if (!process.stdout.write(block)) return process.stdout.once("drain", pump);
      }
      process.stdout.write("done\\n");
    }
    pump();`,
};
