import { constants } from "node:fs";
import path from "node:path";
import { access, stat } from "../../base/fs-async.js";
import type { SandboxKind } from "../../base/spec.js";
import { runTool, ToolError } from "../hardware/run-tool.js";
import { BWRAP_ISOLATION_ARGS } from "./bwrap-args.js";

export interface SandboxDetection {
  kind: SandboxKind;
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  version?: string;
}

export interface DetectOptions {
  /** Bound on each probe; default 5000 ms. */
  timeoutMs?: number;
  /** PATH, XDG_RUNTIME_DIR; default process.env. */
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Present when PID 1 is systemd; default /run/systemd/system. */
  systemdMarker?: string;
}

/** The sandboxed shape wrapCommand produces, run with `true`: if this works, wrapped runtimes can start. */
export const BWRAP_TRIAL_ARGS: readonly string[] = [...BWRAP_ISOLATION_ARGS, "true"];

const USERNS_HINT =
  "unprivileged user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, " +
  "user.max_user_namespaces, or AppArmor's kernel.apparmor_restrict_unprivileged_userns)";

export async function findOnPath(
  name: string,
  envPath = process.env.PATH ?? "",
): Promise<string | undefined> {
  for (const dir of envPath.split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

function failure(err: unknown): string {
  return err instanceof ToolError || err instanceof Error ? err.message : String(err);
}

async function detectBwrap(opts: Required<DetectOptions>): Promise<SandboxDetection> {
  const kind = "bwrap";
  if (opts.platform !== "linux") {
    return { kind, available: false, reason: `bwrap sandboxes are Linux-only (this is ${opts.platform})` };
  }
  const bin = await findOnPath("bwrap", opts.env.PATH);
  if (bin === undefined)
    return { kind, available: false, reason: "bwrap not found on PATH (install bubblewrap)" };
  const detection: SandboxDetection = { kind, available: false };
  try {
    const { stdout } = await runTool(bin, ["--version"], { timeoutMs: opts.timeoutMs, env: opts.env });
    const version = /(\d+\.\d+(?:\.\d+)?)/.exec(stdout)?.[1];
    if (version !== undefined) detection.version = version;
  } catch {
    // Old builds lack --version; the trial run decides.
  }
  try {
    await runTool(bin, BWRAP_TRIAL_ARGS, { timeoutMs: opts.timeoutMs, env: opts.env });
    detection.available = true;
  } catch (err) {
    const message = failure(err);
    const userns = /namespace|uid map|setting up uid|Operation not permitted|Permission denied/i.test(
      message,
    );
    detection.reason = `bwrap trial run failed: ${message}${userns ? `; ${USERNS_HINT}` : ""}`;
  }
  return detection;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function detectSystemdRun(opts: Required<DetectOptions>): Promise<SandboxDetection> {
  const kind = "systemd-run";
  if (opts.platform !== "linux") {
    return { kind, available: false, reason: `systemd-run scopes are Linux-only (this is ${opts.platform})` };
  }
  if (!(await exists(opts.systemdMarker))) {
    return { kind, available: false, reason: `PID 1 is not systemd (${opts.systemdMarker} does not exist)` };
  }
  const bin = await findOnPath("systemd-run", opts.env.PATH);
  if (bin === undefined) return { kind, available: false, reason: "systemd-run not found on PATH" };
  const detection: SandboxDetection = { kind, available: false };
  try {
    const { stdout } = await runTool(bin, ["--version"], { timeoutMs: opts.timeoutMs, env: opts.env });
    const version = /^systemd (\d+)/m.exec(stdout)?.[1];
    if (version !== undefined) detection.version = version;
  } catch (err) {
    detection.reason = `systemd-run --version failed: ${failure(err)}`;
    return detection;
  }
  const user = process.getuid?.() !== 0;
  if (user) {
    const runtimeDir = opts.env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? ""}`;
    const managerSocket = path.join(runtimeDir, "systemd", "private");
    if (!(await exists(managerSocket))) {
      detection.reason =
        `systemd-run --user needs a user manager, and ${managerSocket} does not exist ` +
        "(log in with a systemd session, or enable lingering: loginctl enable-linger)";
      return detection;
    }
  }
  try {
    const args = [...(user ? ["--user"] : []), "--scope", "--quiet", "--collect", "true"];
    await runTool(bin, args, { timeoutMs: opts.timeoutMs, env: opts.env });
    detection.available = true;
  } catch (err) {
    detection.reason = `systemd-run${user ? " --user" : ""} --scope trial failed: ${failure(err)}`;
  }
  return detection;
}

/** Which sandbox kinds work here, and why not for those that don't. `none` always works. */
export async function detectSandboxes(opts: DetectOptions = {}): Promise<SandboxDetection[]> {
  const full: Required<DetectOptions> = {
    timeoutMs: opts.timeoutMs ?? 5000,
    env: opts.env ?? process.env,
    platform: opts.platform ?? process.platform,
    systemdMarker: opts.systemdMarker ?? "/run/systemd/system",
  };
  const [bwrap, systemdRun] = await Promise.all([detectBwrap(full), detectSystemdRun(full)]);
  return [{ kind: "none", available: true }, bwrap, systemdRun];
}
