/**
 * The registration table: every `rmx` command, its flags and usage, and the module that runs it.
 * Modules are loaded with `import()` only when their command runs, so `rmx` starts fast and never loads
 * what it does not need. To add a command (matrix, hardware, models, pin, lease, chat, reload, switch),
 * write `commands/<name>.ts` exporting `run` and add one entry here.
 */
import type { CliContext } from "./context.js";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  required?: boolean;
  /** Placeholder shown in help for string flags. */
  value?: string;
  description: string;
}

export interface ArgumentSpec {
  name: string;
  required: boolean;
  description: string;
}

export interface ParsedCommandArgs {
  /** The command's words, e.g. ["runtime", "start"]: one module may serve several commands. */
  command: readonly string[];
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export type CommandRun = (ctx: CliContext, args: ParsedCommandArgs) => Promise<number>;

export interface CommandSpec {
  path: readonly string[];
  summary: string;
  options: Readonly<Record<string, OptionSpec>>;
  args?: readonly ArgumentSpec[];
  /** Lines appended to the command's help. */
  notes?: readonly string[];
  load: () => Promise<{ run: CommandRun }>;
}

const id: OptionSpec = { type: "string", required: true, value: "RT", description: "runtime id" };
const wait: OptionSpec = {
  type: "boolean",
  description: "wait until the runtime settles and report how it ended",
};
const timeout: OptionSpec = {
  type: "string",
  value: "DURATION",
  description: "how long --wait waits (e.g. 60s, 2m; default 60s)",
};
const serviceScope: Record<string, OptionSpec> = {
  user: { type: "boolean", description: "the per-user service (default)" },
  system: { type: "boolean", description: "the system-wide service (needs root)" },
  "target-dir": {
    type: "string",
    value: "DIR",
    description: "put the service file in DIR instead of the standard place",
  },
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    path: ["runtime", "status"],
    summary: "Show every runtime: state, status, uptime and restart budget",
    options: {
      watch: { type: "boolean", description: "redraw on every runtime event until Ctrl-C" },
    },
    load: () => import("./commands/runtime-status.js"),
  },
  {
    path: ["runtime", "restore"],
    summary: "Restore a runtime: restart it under its restart budget",
    options: {
      id,
      "no-restart": { type: "boolean", description: "clear the failure without restarting" },
      "reset-budget": { type: "boolean", description: "forget the restarts counted in the budget window" },
      wait,
      timeout,
    },
    load: () => import("./commands/runtime-restore.js"),
  },
  {
    path: ["runtime", "start"],
    summary: "Start a runtime",
    options: { id, wait, timeout },
    load: () => import("./commands/runtime-start-stop.js"),
  },
  {
    path: ["runtime", "stop"],
    summary: "Stop a runtime",
    options: { id, wait, timeout },
    load: () => import("./commands/runtime-start-stop.js"),
  },
  {
    path: ["runtime", "logs"],
    summary: "Print a runtime's last log lines",
    options: {
      id,
      lines: { type: "string", short: "n", value: "N", description: "how many lines (default 50)" },
      follow: { type: "boolean", short: "f", description: "keep printing new lines until Ctrl-C" },
    },
    load: () => import("./commands/runtime-logs.js"),
  },
  {
    path: ["events"],
    summary: "Print daemon events as they happen, until Ctrl-C",
    options: {
      topic: {
        type: "string",
        multiple: true,
        value: "PATTERN",
        description: "topic glob, repeatable (e.g. runtime.*; default all)",
      },
    },
    load: () => import("./commands/events.js"),
  },
  {
    path: ["config", "schema"],
    summary: "Print the JSON Schema of the configuration file",
    options: {},
    load: () => import("./commands/config.js"),
  },
  {
    path: ["config", "check"],
    summary: "Validate a configuration file (default: the one rmxd would load)",
    options: {},
    args: [{ name: "FILE", required: false, description: "configuration file to check" }],
    load: () => import("./commands/config.js"),
  },
  {
    path: ["version"],
    summary: "Print the CLI version and, when it runs, the daemon's",
    options: {},
    load: () => import("./commands/version.js"),
  },
  {
    path: ["service", "install"],
    summary: "Install rmxd as a systemd (Linux) or launchd (macOS) service",
    options: {
      ...serviceScope,
      "dry-run": { type: "boolean", description: "print the service file, write nothing" },
      force: { type: "boolean", description: "overwrite a service file rmx did not write" },
      config: { type: "string", value: "FILE", description: "configuration file rmxd is started with" },
      "run-as": { type: "string", value: "USER", description: "--system only: account rmxd runs as" },
      group: {
        type: "string",
        value: "GROUP",
        description: "--system only: group allowed to use the socket",
      },
    },
    load: () => import("./commands/service.js"),
  },
  {
    path: ["service", "uninstall"],
    summary: "Stop, disable and remove the rmxd service",
    options: {
      ...serviceScope,
      force: { type: "boolean", description: "remove a service file rmx did not write" },
    },
    load: () => import("./commands/service.js"),
  },
  {
    path: ["service", "status"],
    summary: "Show whether the rmxd service is installed, ours, and active",
    options: serviceScope,
    load: () => import("./commands/service.js"),
  },
];

/** The command whose path is the longest prefix of `words`. */
export function findCommand(words: readonly string[]): CommandSpec | undefined {
  let best: CommandSpec | undefined;
  for (const spec of COMMANDS) {
    if (spec.path.length > words.length) continue;
    if (!spec.path.every((word, i) => words[i] === word)) continue;
    if (best === undefined || spec.path.length > best.path.length) best = spec;
  }
  return best;
}

/** Commands under a group word (`runtime` → status, restore, …). */
export function commandsUnder(group: string): CommandSpec[] {
  return COMMANDS.filter((spec) => spec.path.length > 1 && spec.path[0] === group);
}
