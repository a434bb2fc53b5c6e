/**
 * The restart budget when rmxd is SIGKILLed the moment after a restart: the backend's restart kills its
 * own daemon (`kill -9 $PPID` from a shell, a millisecond after the fork, while the state file's atomic
 * write is still in flight). Every spawn that happened must still count: no window holds more than
 * `max_restarts` + 1 spawns however often the daemon dies that way, and the last daemon finds the budget
 * exhausted instead of spawning again.
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RMXD } from "../support/daemon-harness.js";
import { configText, faultDir, killQuietly, removeDaemonDirs, report } from "./fault-support.js";

const MAX_RESTARTS = 3;
const daemons = new Set<number>();

afterEach(async () => {
  killQuietly(daemons);
  daemons.clear();
  await removeDaemonDirs();
});

/** First life: exits 1 (a crash, restarted at once); every later one SIGKILLs rmxd, its parent. */
const BACKEND = `
if [ -e "$1" ]; then echo kill >> "$2"; kill -9 "$PPID"; sleep 5; else : > "$1"; echo crash >> "$2"; exit 1; fi`;

/** One rmxd life: resolves "killed" when it died of SIGKILL, "exhausted" when it says so (it is then stopped). */
function life(dir: string, configPath: string): Promise<"killed" | "exhausted" | string> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RMX_SOCKET: path.join(dir, "rmxd.sock"),
    RMX_STATE_DIR: path.join(dir, "state"),
    RMX_LOG_LEVEL: "info",
    XDG_CONFIG_HOME: path.join(dir, "xdg-config"),
    RMX_HTTP: "off",
  };
  delete env.RMX_CONFIG;
  const proc = spawn(process.execPath, [RMXD, "--config", configPath], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  daemons.add(proc.pid as number);
  let err = "";
  return new Promise((resolve) => {
    proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
      err += d;
      if (err.includes("state exhausted")) {
        proc.kill("SIGTERM");
        resolve("exhausted");
      }
    });
    proc.once("exit", (code, signal) => {
      daemons.delete(proc.pid as number);
      resolve(signal === "SIGKILL" ? "killed" : `exit ${code ?? signal}: ${err.slice(-2000)}`);
    });
  });
}

describe.runIf(process.platform === "linux")("the budget when rmxd dies right after a restart", () => {
  it(`counts every spawn: at most ${MAX_RESTARTS} + 1, then exhausted`, async () => {
    const dir = await faultDir();
    const script = path.join(dir, "backend.sh");
    await fs.writeFile(script, BACKEND);
    const spawns = path.join(dir, "spawns.txt");
    const configPath = path.join(dir, "rmx.yaml");
    const runtime = {
      id: "killer",
      adapter: "command",
      binary: "/bin/sh",
      args: [script, path.join(dir, "crashed-once"), spawns],
      hardware: "cpu",
      sandbox: "none",
      auto_start: true,
      restart_budget: { max_restarts: MAX_RESTARTS, window_seconds: 600, retry_at_reset: false },
      backoff: { initial: 0, max: 1, factor: 1, jitter: 0 },
      stop: { grace: 2000 },
    };
    await fs.writeFile(configPath, configText({ runtimes: [runtime] }));
    const lives: string[] = [];
    // Bounded: were spawns lost, the daemon would die round after round; a correct one stops at the bound.
    for (let round = 0; round < MAX_RESTARTS + 4; round++) {
      const end = await life(dir, configPath);
      lives.push(end.startsWith("exit") ? "exit" : end);
      if (end !== "killed") {
        expect(end).toBe("exhausted");
        break;
      }
    }
    const text = await fs.readFile(spawns, "utf8");
    const count = text.split("\n").filter(Boolean).length;
    const figures = `lives [${lives.join(", ")}], spawns ${count}: ${text.replace(/\n/g, " ")}`;
    expect(count, figures).toBeLessThanOrEqual(MAX_RESTARTS + 1);
    expect(lives.at(-1), figures).toBe("exhausted");
    report("budget across rmxd SIGKILLed right after a restart", { lives, spawns: count });
  }, 120_000);
});
