/** Help texts, built from the registration table so they cannot drift from what is parsed. */
import { usageLine } from "./args.js";
import type { CommandSpec } from "./commands.js";
import { COMMANDS, commandsUnder } from "./commands.js";
import { EXIT_CODES_HELP } from "./exit-codes.js";
import { alignColumns } from "./format.js";

function globalFlagsHelp(defaultSocket: string): string {
  const rows = [
    ["  --socket PATH", `daemon socket (default: $RMX_SOCKET, else ${defaultSocket})`],
    ["  --json", "machine-readable output"],
    ["  --no-color", "no colours (also off when NO_COLOR is set or stdout is not a terminal)"],
    ["  -h, --help", "help for rmx or any command"],
    ["  --version", "print the CLI version"],
  ];
  return `Global flags:\n${alignColumns(rows).join("\n")}`;
}

function commandTable(specs: readonly CommandSpec[]): string {
  return alignColumns(specs.map((spec) => [`  ${spec.path.join(" ")}`, spec.summary])).join("\n");
}

export function rootHelp(defaultSocket: string): string {
  return [
    "rmx: control rmxd, the runtime-matrix supervisor",
    "",
    "usage: rmx [--socket PATH] [--json] [--no-color] <command> [flags]",
    "",
    "Commands:",
    commandTable(COMMANDS),
    "",
    globalFlagsHelp(defaultSocket),
    "",
    EXIT_CODES_HELP,
    "",
    'Run "rmx <command> --help" for the flags of a command.',
  ].join("\n");
}

export function groupHelp(group: string): string {
  return [`usage: rmx ${group} <command> [flags]`, "", "Commands:", commandTable(commandsUnder(group))].join(
    "\n",
  );
}

export function commandHelp(spec: CommandSpec, defaultSocket: string): string {
  const rows = Object.entries(spec.options).map(([name, option]) => {
    const short = option.short === undefined ? "    " : `-${option.short}, `;
    const flag = option.type === "string" ? `--${name} ${option.value ?? "VALUE"}` : `--${name}`;
    return [`  ${short}${flag}`, option.required ? `${option.description} (required)` : option.description];
  });
  const argRows = (spec.args ?? []).map((arg) => [`  ${arg.name}`, arg.description]);
  const sections = [spec.summary, "", usageLine(spec)];
  if (argRows.length > 0) sections.push("", "Arguments:", alignColumns(argRows).join("\n"));
  if (rows.length > 0) sections.push("", "Flags:", alignColumns(rows).join("\n"));
  if (spec.notes !== undefined) sections.push("", ...spec.notes);
  if (Object.values(spec.options).some((o) => o.value === "DURATION")) sections.push("", DURATION_HELP);
  sections.push("", globalFlagsHelp(defaultSocket), "", EXIT_CODES_HELP);
  return sections.join("\n");
}

/** Flags and rmx.yaml read durations alike (base/units.ts); only a YAML number (no quotes) is milliseconds. */
export const DURATION_HELP =
  "DURATION: a number with its unit: 500ms, 60s, 1.5m, 2h, 1d. A bare number is refused (write 60s or 60000ms).";
