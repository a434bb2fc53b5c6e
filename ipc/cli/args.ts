/**
 * Argument parsing: global flags are taken from anywhere before `--`, the command is the longest run of
 * leading words found in the table, and the rest is checked against that command's flags, so every
 * usage error names the flag or word at fault.
 */
import { parseArgs } from "node:util";
import type { CommandSpec, ParsedCommandArgs } from "./command-spec.js";

/** A usage mistake: exit code 2, the message plus the command's usage line. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    /** The usage line(s) to show under the message. */
    readonly usage: string,
  ) {
    super(message);
  }
}

/**
 * A UsageError from any copy of this module: the commands other than `runtime status` are bundled apart
 * from the CLI's core (scripts/bundle.mjs), each side with its own class, so `instanceof` alone would miss.
 */
export function isUsageError(error: unknown): error is UsageError {
  if (error instanceof UsageError) return true;
  return (
    error instanceof Error && error.name === "UsageError" && typeof (error as UsageError).usage === "string"
  );
}

export interface GlobalFlags {
  socket?: string;
  json: boolean;
  noColor: boolean;
  help: boolean;
  version: boolean;
}

export function splitGlobals(argv: readonly string[]): { globals: GlobalFlags; rest: string[] } {
  const globals: GlobalFlags = { json: false, noColor: false, help: false, version: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--json") globals.json = true;
    else if (arg === "--no-color") globals.noColor = true;
    else if (arg === "--help" || arg === "-h") globals.help = true;
    else if (arg === "--version") globals.version = true;
    else if (arg === "--socket") {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("-")) {
        throw new UsageError("flag --socket needs a value (a socket path)", "rmx --socket PATH <command> …");
      }
      globals.socket = value;
      i += 1;
    } else if (arg.startsWith("--socket=")) {
      const value = arg.slice("--socket=".length);
      if (value === "") {
        throw new UsageError("flag --socket needs a value (a socket path)", "rmx --socket PATH <command> …");
      }
      globals.socket = value;
    } else rest.push(arg);
  }
  return { globals, rest };
}

/** Leading words before the first flag. */
export function leadingWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith("-")) break;
    words.push(arg);
  }
  return words;
}

export function usageLine(spec: CommandSpec): string {
  const parts = ["rmx", ...spec.path];
  for (const [name, option] of Object.entries(spec.options)) {
    const flag = option.type === "string" ? `--${name} ${option.value ?? "VALUE"}` : `--${name}`;
    const shown = option.multiple ? `${flag} …` : flag;
    parts.push(option.required ? shown : `[${shown}]`);
  }
  for (const arg of spec.args ?? []) {
    const shown = arg.variadic ? `${arg.name} …` : arg.name;
    parts.push(arg.required ? shown : `[${shown}]`);
  }
  return `usage: ${parts.join(" ")}`;
}

export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedCommandArgs {
  const name = `rmx ${spec.path.join(" ")}`;
  const usage = usageLine(spec);
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([flag, option]) => [
      flag,
      {
        type: option.type,
        ...(option.short === undefined ? {} : { short: option.short }),
        ...(option.multiple ? { multiple: true } : {}),
      },
    ]),
  );
  // No words after the command (`rmx runtime status --json`): nothing to parse, and node:util's parser
  // (modules outside Node's start-up snapshot) is never loaded.
  const tokens =
    argv.length === 0
      ? []
      : parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true }).tokens;
  const values: ParsedCommandArgs["values"] = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === "option-terminator") continue;
    const option = spec.options[token.name];
    if (option === undefined) throw new UsageError(`unknown flag ${token.rawName} for ${name}`, usage);
    if (option.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(`flag ${token.rawName} takes no value (got "${token.value}")`, usage);
      }
      values[token.name] = true;
      continue;
    }
    // With strict off, parseArgs takes the next word as the value even when it is a flag (`--id --wait`).
    const swallowedFlag = token.inlineValue === false && token.value?.startsWith("-") === true;
    if (token.value === undefined || token.value === "" || swallowedFlag) {
      throw new UsageError(`flag ${token.rawName} needs a value (${option.value ?? "VALUE"})`, usage);
    }
    if (option.multiple) {
      const previous = values[token.name];
      values[token.name] = [...(Array.isArray(previous) ? previous : []), token.value];
    } else values[token.name] = token.value;
  }
  for (const [flag, option] of Object.entries(spec.options)) {
    if (option.required && values[flag] === undefined) {
      throw new UsageError(`missing required flag --${flag} for ${name}`, usage);
    }
  }
  const declared = spec.args ?? [];
  const variadic = declared[declared.length - 1]?.variadic === true;
  if (!variadic && positionals.length > declared.length) {
    throw new UsageError(`unexpected argument "${positionals[declared.length]}" for ${name}`, usage);
  }
  declared.forEach((arg, i) => {
    if (arg.required && positionals[i] === undefined) {
      throw new UsageError(`missing argument ${arg.name} for ${name}`, usage);
    }
  });
  return { command: spec.path, values, positionals, spec };
}

export function stringValue(args: ParsedCommandArgs, flag: string): string | undefined {
  const value = args.values[flag];
  return typeof value === "string" ? value : undefined;
}

export function booleanValue(args: ParsedCommandArgs, flag: string): boolean {
  return args.values[flag] === true;
}

export function listValue(args: ParsedCommandArgs, flag: string): string[] {
  const value = args.values[flag];
  return Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
}
