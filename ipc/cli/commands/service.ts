/** `rmx service install|uninstall|status`: the rmxd service file for systemd or launchd. */
import { existsSync } from "node:fs";
import path from "node:path";
import type { ServiceKind } from "../../../packaging/service.js";
import { booleanValue, stringValue, UsageError, usageLine } from "../args.js";
import type { ParsedCommandArgs } from "../command-spec.js";
import type { CliContext } from "../context.js";
import { ExitCode } from "../exit-codes.js";
import { daemonEntryOf } from "../failure.js";

function usage(args: ParsedCommandArgs): string {
  const spec = args.spec;
  return spec === undefined ? "" : usageLine(spec);
}

export function serviceKind(
  args: ParsedCommandArgs,
  platform: NodeJS.Platform = process.platform,
): ServiceKind {
  const user = booleanValue(args, "user");
  const system = booleanValue(args, "system");
  if (user && system) throw new UsageError("flags --user and --system exclude each other", usage(args));
  if (platform === "linux") return system ? "systemd-system" : "systemd-user";
  if (platform === "darwin") {
    if (system)
      throw new UsageError("--system is not supported on macOS yet: use the per-user agent", usage(args));
    return "launchd";
  }
  throw new Error(
    `rmx service supports systemd (Linux) and launchd (macOS), not ${platform}: run rmxd under your own service manager`,
  );
}

/**
 * rmxd's entry next to this CLI (dist/ipc/cli/commands/ → dist/bin/rmxd.cjs): the bundle, which a service
 * runs in less memory than the tsc output's few hundred modules (dist/daemon/main.js, what a checkout
 * that was never bundled has).
 */
function rmxdEntry(): string {
  return daemonEntryOf(new URL("../../../", import.meta.url));
}

export async function run(ctx: CliContext, args: ParsedCommandArgs): Promise<number> {
  const kind = serviceKind(args);
  const targetDir = stringValue(args, "target-dir");
  const location = { kind, ...(targetDir === undefined ? {} : { targetDir }), env: ctx.env };
  const service = await import("../../../packaging/service.js");
  switch (args.command[1]) {
    case "install":
      return install(ctx, args, kind, targetDir, service);
    case "uninstall": {
      const result = await service.uninstallService({ ...location, force: booleanValue(args, "force") });
      if (ctx.json) ctx.out(JSON.stringify(result, null, 2));
      else if (!result.existed) ctx.out(`Nothing to remove: ${result.path} does not exist`);
      else {
        for (const command of result.ran) ctx.out(`Ran: ${command}`);
        ctx.out(`Removed ${result.path}`);
        if (result.nextCommand !== "") ctx.out(`Next: ${result.nextCommand}`);
      }
      return ExitCode.OK;
    }
    default: {
      const status = await service.serviceStatus(location);
      if (ctx.json) {
        ctx.out(JSON.stringify(status, null, 2));
        return ExitCode.OK;
      }
      if (!status.installed) ctx.out(`${status.kind}: not installed (${status.path})`);
      else {
        const owner = status.ours
          ? "written by rmx service install"
          : "NOT written by rmx (edited or foreign)";
        ctx.out(`${status.kind}: installed at ${status.path}, ${owner}`);
      }
      if (status.active !== undefined) ctx.out(`service: ${status.active}`);
      if (status.note !== undefined) ctx.out(`service: unknown (${status.note})`);
      return ExitCode.OK;
    }
  }
}

async function install(
  ctx: CliContext,
  args: ParsedCommandArgs,
  kind: ServiceKind,
  targetDir: string | undefined,
  service: typeof import("../../../packaging/service.js"),
): Promise<number> {
  const config = stringValue(args, "config");
  const runAs = stringValue(args, "run-as");
  const group = stringValue(args, "group");
  if (kind !== "systemd-system" && (runAs !== undefined || group !== undefined)) {
    throw new UsageError("flags --run-as and --group apply to --system only", usage(args));
  }
  const rmxd = rmxdEntry();
  if (!existsSync(rmxd)) ctx.err(`rmx: warning: ${rmxd} does not exist yet (build with \`npm run build\`)`);
  const dryRun = booleanValue(args, "dry-run");
  const result = await service.installService({
    kind,
    node: process.execPath,
    rmxd,
    ...(config === undefined ? {} : { config: path.resolve(config) }),
    ...(runAs === undefined ? {} : { user: runAs }),
    ...(group === undefined ? {} : { group }),
    ...(targetDir === undefined ? {} : { targetDir }),
    env: ctx.env,
    dryRun,
    force: booleanValue(args, "force"),
  });
  if (ctx.json) {
    ctx.out(JSON.stringify(result, null, 2));
    return ExitCode.OK;
  }
  if (dryRun) {
    ctx.out(`Would write ${result.path} (dry run, nothing written):`);
    ctx.out("");
    ctx.out(result.content);
    return ExitCode.OK;
  }
  ctx.out(`Wrote ${result.path}`);
  ctx.out(`Next: ${result.nextCommand}`);
  return ExitCode.OK;
}
