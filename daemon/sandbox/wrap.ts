import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { randomHex } from "../../base/entropy.js";
import { RmxError } from "../../base/errors.js";
import type { SandboxKind, SandboxSpec } from "../../base/spec.js";
import { BWRAP_ISOLATION_ARGS } from "./bwrap-args.js";
import type { SandboxDetection } from "./detect.js";

export { BWRAP_ISOLATION_ARGS };

export interface CommandPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface WrapContext {
  modelPath?: string;
  runtimeId: string;
  stateDir: string;
  /** Where GPU device nodes are looked for; default /dev (tests). */
  devDir?: string;
  /** Effective uid; default process.getuid(). systemd-run adds --user when not root. */
  uid?: number;
  /** Suffix that keeps scope unit names unique; default 6 random hex digits. */
  unitSuffix?: string;
}

/** Private HOME inside the bwrap sandbox, on its tmpfs /tmp. */
export const SANDBOX_HOME = "/tmp/rmx-home";

/** GPU device nodes, bound in when present so CUDA / ROCm / Vulkan still see the GPUs. */
function gpuDeviceBinds(devDir: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(devDir).filter((name) => /^nvidia/.test(name));
  } catch {
    // No /dev listing: only the fixed paths below, bound if present.
  }
  const nodes = [
    ...names.sort().map((name) => path.join(devDir, name)),
    path.join(devDir, "dri"),
    path.join(devDir, "kfd"),
  ];
  return nodes.flatMap((node) => ["--dev-bind-try", node, path.join("/dev", path.relative(devDir, node))]);
}

/**
 * bwrap: read-only view of the whole system, fresh /dev (plus GPU nodes), /proc and a private /tmp; the model
 * file bound read-only (it may live under the hidden /tmp); PID namespace; dies with the daemon.
 * The network namespace is shared so the daemon still reaches the backend on loopback.
 */
function bwrapArgs(plan: CommandPlan, spec: SandboxSpec, ctx: WrapContext): string[] {
  const args: string[] = [
    ...BWRAP_ISOLATION_ARGS,
    "--dir",
    SANDBOX_HOME,
    "--setenv",
    "HOME",
    SANDBOX_HOME,
    "--setenv",
    "TMPDIR",
    "/tmp",
  ];
  args.push(...gpuDeviceBinds(ctx.devDir ?? "/dev"));
  for (const dir of hiddenProgramDirs(plan)) args.push("--ro-bind", dir, dir);
  if (ctx.modelPath !== undefined) {
    const model = path.resolve(ctx.modelPath);
    args.push("--ro-bind", model, model);
  }
  for (const bind of spec.ro_binds ?? []) {
    const resolved = path.resolve(bind);
    args.push("--ro-bind", resolved, resolved);
  }
  if (plan.cwd !== undefined) {
    const cwd = path.resolve(plan.cwd);
    args.push("--ro-bind", cwd, cwd, "--chdir", cwd);
  }
  args.push("--", plan.command, ...plan.args);
  return args;
}

/**
 * The private /tmp would hide a program (or a script it is given) that lives under the host's /tmp — an
 * install or checkout there, like the bundled stub run from a clone in /tmp. Bind the top directory under
 * /tmp holding each such path back in, read-only, so the sandbox still runs what it was asked to run.
 */
function hiddenProgramDirs(plan: CommandPlan): string[] {
  const dirs = new Set<string>();
  for (const candidate of [plan.command, ...plan.args]) {
    if (!path.isAbsolute(candidate)) continue;
    const resolved = path.resolve(candidate);
    const parts = resolved.split(path.sep);
    if (parts[1] !== "tmp" || parts.length < 4 || !existsSync(resolved)) continue;
    dirs.add(path.join("/tmp", parts[2]!));
  }
  return [...dirs];
}

/** systemd unit names allow [A-Za-z0-9:_.\-]; everything else becomes "_". */
function unitName(runtimeId: string, suffix: string): string {
  return `rmx-${runtimeId.replace(/[^A-Za-z0-9:_.-]/g, "_")}-${suffix}`;
}

function systemdRunArgs(plan: CommandPlan, spec: SandboxSpec, ctx: WrapContext): string[] {
  const uid = ctx.uid ?? process.getuid?.() ?? 0;
  const args = uid === 0 ? [] : ["--user"];
  args.push("--scope", "--quiet", "--collect");
  if (spec.memory_max_bytes !== undefined) args.push("-p", `MemoryMax=${Math.floor(spec.memory_max_bytes)}`);
  if (spec.cpu_quota_percent !== undefined)
    args.push("-p", `CPUQuota=${Math.round(spec.cpu_quota_percent)}%`);
  args.push("--unit", unitName(ctx.runtimeId, ctx.unitSuffix ?? randomHex(3)));
  args.push("--", plan.command, ...plan.args);
  return args;
}

function requireAvailable(
  kind: SandboxKind,
  detections: readonly SandboxDetection[],
  runtimeId: string,
): void {
  if (kind === "none") return;
  const detection = detections.find((d) => d.kind === kind);
  if (detection?.available === true) return;
  const reason = detection?.reason ?? "it was not detected on this machine";
  throw new RmxError(
    "SANDBOX_UNAVAILABLE",
    `sandbox ${kind} for runtime ${runtimeId} is unavailable: ${reason}`,
    {
      sandbox: kind,
      runtime: runtimeId,
      reason,
    },
  );
}

/**
 * Rewrites a launch plan to run inside the sandbox. `detections` is detectSandboxes()'s answer; a kind that
 * is not available there throws RmxError SANDBOX_UNAVAILABLE with the detection's reason.
 */
export function wrapCommand(
  plan: CommandPlan,
  sandbox: SandboxSpec,
  ctx: WrapContext,
  detections: readonly SandboxDetection[],
): CommandPlan {
  requireAvailable(sandbox.kind, detections, ctx.runtimeId);
  const wrapped = (command: string, args: string[]): CommandPlan => {
    const out: CommandPlan = { command, args, env: { ...plan.env } };
    if (plan.cwd !== undefined) out.cwd = plan.cwd;
    return out;
  };
  switch (sandbox.kind) {
    case "none":
      return wrapped(plan.command, [...plan.args]);
    case "bwrap":
      return wrapped("bwrap", bwrapArgs(plan, sandbox, ctx));
    case "systemd-run":
      return wrapped("systemd-run", systemdRunArgs(plan, sandbox, ctx));
  }
}
