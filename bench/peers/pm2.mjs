/**
 * PM2 (dev dependency), run with the same node and the same environment as ours, its home in the run's
 * temporary directory, its daemon killed with `pm2 kill` afterwards. Children are started as the same
 * command line as everywhere else (`node <child>`, interpreter none) with PM2's fastest settings:
 * restart_delay 0, no min_uptime, max_restarts huge, vizion off.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchEnv, mustRun, onCleanup, pidGone, timedRun } from "../lib/procs.mjs";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const require = createRequire(path.join(REPO, "package.json"));

export const name = "PM2";

let pm2Bin;
let home;

function resolveBin() {
  try {
    const pkg = require.resolve("pm2/package.json");
    return path.join(path.dirname(pkg), "bin", "pm2");
  } catch {
    return undefined;
  }
}

export function version() {
  try {
    return require("pm2/package.json").version;
  } catch {
    return undefined;
  }
}

export function available() {
  pm2Bin ??= resolveBin();
  return pm2Bin ? { ok: true } : { ok: false, note: "pm2 is not installed (npm install)" };
}

/** One PM2_HOME for the whole run: the programmatic API reads it once, when it is first imported. */
export function init(runDir) {
  home = path.join(runDir, "pm2-home");
  fs.mkdirSync(home, { recursive: true });
  process.env.PM2_HOME = home;
}

function env() {
  return benchEnv({ PM2_HOME: home });
}

function pm2(args, opts = {}) {
  return mustRun(process.execPath, [pm2Bin, ...args], { env: env(), ...opts });
}

function appEntry(program, dir) {
  return {
    name: program.id,
    script: process.execPath,
    args: [program.script],
    interpreter: "none",
    exec_mode: "fork",
    autorestart: true,
    restart_delay: 0,
    min_uptime: 0,
    max_restarts: 1_000_000_000,
    vizion: false,
    watch: false,
    env: program.env,
    out_file: path.join(dir, "logs", `${program.id}.out.log`),
    error_file: path.join(dir, "logs", `${program.id}.err.log`),
  };
}

async function killDaemon() {
  const pidFile = path.join(home, "pm2.pid");
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8")) : undefined;
  await timedRun(process.execPath, [pm2Bin, "kill"], { env: env(), timeoutMs: 60_000 });
  if (pid && !(await pidGone(pid, 10_000))) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** `pm2 start` of every program, from no daemon at all (the CLI launches it). */
export async function deploy({ dir, programs }) {
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  const appsFile = path.join(dir, "apps.json");
  fs.writeFileSync(appsFile, JSON.stringify({ apps: programs.map((p) => appEntry(p, dir)) }, null, 2));
  const teardown = onCleanup("pm2 daemon", killDaemon);
  await pm2(["start", appsFile], { timeoutMs: 120_000 });
  const daemonPid = Number(fs.readFileSync(path.join(home, "pm2.pid"), "utf8"));
  return {
    daemonPid,
    statusCommand: { command: process.execPath, args: [pm2Bin, "jlist"], env: env() },
    /** Apps `online` in `pm2 jlist`. */
    listed: (r) =>
      r.code === 0 ? JSON.parse(r.stdout).filter((x) => x.pm2_env?.status === "online").length : -1,
    async connect() {
      const api = require("pm2");
      await new Promise((resolve, reject) => api.connect((err) => (err ? reject(err) : resolve())));
      return {
        list: () =>
          new Promise((resolve, reject) => api.list((err, list) => (err ? reject(err) : resolve(list)))),
        close: async () => api.disconnect(),
      };
    },
    teardown,
  };
}
