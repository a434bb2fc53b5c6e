/**
 * supervisord (Debian's `supervisor` package), skipped with a note when absent. Run in the foreground as
 * the bench's child with its own config, socket and logs in the run's directory; programs restart at once
 * (startsecs 0, autorestart, startretries huge).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { benchEnv, onCleanup, pidGone, spawnTracked, waitFor } from "../lib/procs.mjs";

export const name = "supervisord";

function which(command) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

const SUPERVISORD = which("supervisord");
const SUPERVISORCTL = which("supervisorctl");

export function version() {
  if (!SUPERVISORD) return undefined;
  try {
    return execFileSync(SUPERVISORD, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

export function available() {
  if (SUPERVISORD && SUPERVISORCTL) return { ok: true };
  return {
    ok: false,
    note: "supervisord not found on PATH (Debian: apt-get install supervisor); skipped",
  };
}

/** supervisor's config is ini with %-interpolation: escape '%' and quote every value. */
function quote(value) {
  return `"${String(value).replaceAll("%", "%%").replaceAll('"', '\\"')}"`;
}

function bare(value) {
  return String(value).replaceAll("%", "%%");
}

function configText(dir, programs) {
  const sock = path.join(dir, "supervisor.sock");
  const lines = [
    "[unix_http_server]",
    `file=${bare(sock)}`,
    "chmod=0700",
    "",
    "[supervisord]",
    "nodaemon=true",
    `logfile=${bare(path.join(dir, "supervisord.log"))}`,
    `pidfile=${bare(path.join(dir, "supervisord.pid"))}`,
    `childlogdir=${bare(path.join(dir, "logs"))}`,
    "minfds=4096",
    "minprocs=512",
    "",
    "[rpcinterface:supervisor]",
    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    "",
    "[supervisorctl]",
    `serverurl=unix://${bare(sock)}`,
    "",
  ];
  for (const p of programs) {
    const env = Object.entries(p.env)
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join(",");
    lines.push(
      `[program:${p.id}]`,
      `command=${bare(process.execPath)} ${bare(p.script)}`,
      "autostart=true",
      "autorestart=true",
      "startsecs=0",
      "startretries=1000000000",
      "stopsignal=TERM",
      "stopwaitsecs=5",
      "stopasgroup=true",
      "killasgroup=true",
      `stdout_logfile=${bare(path.join(dir, "logs", `${p.id}.out.log`))}`,
      `stderr_logfile=${bare(path.join(dir, "logs", `${p.id}.err.log`))}`,
      ...(env ? [`environment=${env}`] : []),
      "",
    );
  }
  return lines.join("\n");
}

export async function deploy({ dir, programs }) {
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  const conf = path.join(dir, "supervisord.conf");
  fs.writeFileSync(conf, configText(dir, programs));
  const env = benchEnv();
  const daemon = spawnTracked(SUPERVISORD, ["-c", conf], {
    env,
    logFile: path.join(dir, "supervisord.out"),
    // Its own process group: a Ctrl-C on the bench must not reach it before the bench's own teardown does.
    detached: true,
  });
  const teardown = onCleanup(`supervisord ${daemon.pid}`, async () => {
    if (daemon.alive()) daemon.child.kill("SIGTERM");
    if (!(await pidGone(daemon.pid, 30_000))) daemon.child.kill("SIGKILL");
    await daemon.exited;
  });
  await waitFor(
    () => {
      if (!daemon.alive()) throw new Error(`supervisord exited; see ${path.join(dir, "supervisord.log")}`);
      return fs.existsSync(path.join(dir, "supervisor.sock"));
    },
    30_000,
    "supervisord's socket",
  );
  return {
    daemonPid: daemon.pid,
    statusCommand: { command: SUPERVISORCTL, args: ["-c", conf, "status"], env },
    /** Programs RUNNING; supervisorctl exits 3 when some are not, which still is a full answer. */
    listed: (r) =>
      r.code === 0 || r.code === 3 ? r.stdout.split("\n").filter((l) => /\bRUNNING\b/.test(l)).length : -1,
    teardown,
  };
}
