/**
 * A backend that spreads: its leader starts N grandchildren (optionally each in its own session, as
 * `setsid` would) and then serves /health, or exits at once leaving them behind. Every process of one
 * scenario carries `ESCAPE_MARK=<mark>` (the runtime's `env`), which is how the test counts survivors
 * without trusting rmxd's own bookkeeping.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

const BACKEND = `
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const [mode, count, pidsFile] = process.argv.slice(2);
fs.appendFileSync(pidsFile, "leader " + process.pid + "\\n");
for (let i = 0; i < Number(count); i++) {
  // clearenv: a new session and an environment without RMX_TAG; only a cgroup can still find these.
  const env = mode === "clearenv" ? { ESCAPE_MARK: process.env.ESCAPE_MARK, PATH: process.env.PATH } : process.env;
  const child = spawn("sleep", ["1000"], { detached: mode === "setsid" || mode === "clearenv", env, stdio: "ignore" });
  child.unref();
  fs.appendFileSync(pidsFile, "grandchild " + child.pid + "\\n");
}
fs.appendFileSync(pidsFile, "spawned\\n");
if (mode === "leader-exits") process.exit(0);
http.createServer((_req, res) => res.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");
`;

export type BackendMode = "leader-exits" | "setsid" | "clearenv" | "stay";

export async function writeBackend(dir: string): Promise<string> {
  const file = path.join(dir, "escape-backend.cjs");
  await writeFile(file, BACKEND);
  return file;
}

/** A `command` runtime running the backend; a long backoff so no restart interferes with the count. */
export function escapeRuntime(
  id: string,
  opts: { script: string; mode: BackendMode; count: number; pidsFile: string; mark: string },
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    adapter: "command",
    binary: process.execPath,
    args: [opts.script, opts.mode, String(opts.count), opts.pidsFile],
    env: { ESCAPE_MARK: opts.mark },
    hardware: "cpu",
    sandbox: "none",
    auto_start: false,
    health: { path: "/health", start_poll_initial: "10ms", start_poll_max: "50ms" },
    backoff: { initial: "10m", max: "10m" },
    stop: { signal: "SIGTERM", grace: "2s" },
    ...extra,
  };
}

/** Pids the backend reported, and whether it finished spawning. */
export async function reportedPids(pidsFile: string): Promise<{ pids: number[]; spawned: boolean }> {
  const text = await readFile(pidsFile, "utf8").catch(() => "");
  const pids = text.split("\n").flatMap((l) => {
    const m = /^(?:leader|grandchild) (\d+)$/.exec(l);
    return m ? [Number(m[1])] : [];
  });
  return { pids, spawned: text.includes("spawned\n") };
}

/** Live (non-zombie) processes whose environment holds ESCAPE_MARK=<mark>: what escaped, counted from /proc. */
export async function markedAlive(mark: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = await readFile(`/proc/${name}/environ`, "utf8");
      if (!environ.split("\0").includes(`ESCAPE_MARK=${mark}`)) continue;
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state !== "Z" && state !== "X") found.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Kills whatever a failing scenario left (best effort). */
export async function killMarked(mark: string): Promise<void> {
  for (const pid of await markedAlive(mark)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}
