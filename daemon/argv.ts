/**
 * rmxd's command line, read the way `util.parseArgs` reads it in strict mode without positionals: the
 * same values and the same messages for every error (test/daemon/argv.property.test.ts holds the two
 * to each other over generated command lines, on each Node the suite runs on).
 *
 * Why not parseArgs itself: its module loads on first use and stays, 0.3 MiB of RSS on Node 24 for a
 * call made once at start-up.
 */

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  default?: string | boolean;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;
export type OptionValues = Record<string, string | boolean | undefined>;

/** rmxd's options (daemon/main.ts's usage text says what each does). */
export const RMXD_OPTIONS: OptionTable = {
  config: { type: "string" },
  socket: { type: "string" },
  "state-dir": { type: "string" },
  http: { type: "string" },
  system: { type: "boolean", default: false },
  pretty: { type: "boolean" },
  "log-level": { type: "string" },
  version: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
};

/** A command line that does not fit the table; `code` is parseArgs' code for the same error. */
export class ArgvError extends Error {
  constructor(
    readonly code:
      | "ERR_PARSE_ARGS_UNKNOWN_OPTION"
      | "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
      | "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
    message: string,
  ) {
    super(message);
    this.name = "ArgvError";
  }
}

interface OptionUse {
  name: string;
  /** As the user wrote it: `--name` (without `=value`) or `-x`. */
  written: string;
  value: string | undefined;
  /** The value came after `=` (never ambiguous), not as the next argument. */
  inline: boolean;
}

type Item = { option: OptionUse } | { positional: string };

export function parseArgv(args: readonly string[], table: OptionTable): OptionValues {
  const values: OptionValues = Object.create(null);
  for (const item of items(args, table)) {
    if ("positional" in item) {
      throw new ArgvError(
        "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
        `Unexpected argument '${item.positional}'. This command does not take positional arguments`,
      );
    }
    const use = item.option;
    checkUse(use, table);
    values[use.name] = use.value ?? true;
  }
  for (const [name, spec] of Object.entries(table)) {
    if (spec.default !== undefined && values[name] === undefined) values[name] = spec.default;
  }
  return values;
}

function specOf(table: OptionTable, name: string): OptionSpec | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** The long name a short letter stands for; an unmapped letter stands for itself (and is unknown). */
function longNameOf(table: OptionTable, letter: string): string {
  for (const [name, spec] of Object.entries(table)) if (spec.short === letter) return name;
  return letter;
}

function takesValue(table: OptionTable, name: string): boolean {
  return specOf(table, name)?.type === "string";
}

/** The command line as options and positionals, in order; errors are found afterwards, in that order. */
function items(args: readonly string[], table: OptionTable): Item[] {
  const out: Item[] = [];
  const queue = [...args];
  while (queue.length > 0) {
    const arg = queue.shift() as string;
    if (arg === "--") {
      for (const rest of queue) out.push({ positional: rest });
      break;
    }
    const isShortForm = arg.length >= 2 && arg[0] === "-" && arg[1] !== "-";
    if (isShortForm && arg.length === 2) {
      const name = longNameOf(table, arg.charAt(1));
      const value = takesValue(table, name) && queue.length > 0 ? queue.shift() : undefined;
      out.push({ option: { name, written: arg, value, inline: false } });
      continue;
    }
    if (isShortForm) {
      const first = longNameOf(table, arg.charAt(1));
      if (takesValue(table, first)) {
        // -fVALUE
        out.push({ option: { name: first, written: arg.slice(0, 2), value: arg.slice(2), inline: true } });
        continue;
      }
      // A group of letters (-vh): each on its own; a letter that takes a value takes the rest of the group.
      const expanded: string[] = [];
      for (let i = 1; i < arg.length; i += 1) {
        const letter = arg.charAt(i);
        if (!takesValue(table, longNameOf(table, letter)) || i === arg.length - 1) {
          expanded.push(`-${letter}`);
        } else {
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      queue.unshift(...expanded);
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--")) {
      // An `=` right after the dashes is part of the name (`--=x`); any later one starts the value.
      if (arg.indexOf("=", 3) === -1) {
        const name = arg.slice(2);
        const value = takesValue(table, name) && queue.length > 0 ? queue.shift() : undefined;
        out.push({ option: { name, written: arg, value, inline: false } });
      } else {
        const eq = arg.indexOf("=");
        const name = arg.slice(2, eq);
        out.push({ option: { name, written: `--${name}`, value: arg.slice(eq + 1), inline: true } });
      }
      continue;
    }
    out.push({ positional: arg });
  }
  return out;
}

function checkUse(use: OptionUse, table: OptionTable): void {
  const spec = specOf(table, use.name);
  if (spec === undefined) {
    throw new ArgvError("ERR_PARSE_ARGS_UNKNOWN_OPTION", `Unknown option '${use.written}'`);
  }
  const both = `${spec.short ? `-${spec.short}, ` : ""}--${use.name}`;
  if (spec.type === "string" && use.value === undefined) {
    throw new ArgvError("ERR_PARSE_ARGS_INVALID_OPTION_VALUE", `Option '${both} <value>' argument missing`);
  }
  if (spec.type === "boolean" && use.value !== undefined) {
    throw new ArgvError("ERR_PARSE_ARGS_INVALID_OPTION_VALUE", `Option '${both}' does not take an argument`);
  }
  if (!use.inline && use.value !== undefined && use.value.length > 1 && use.value[0] === "-") {
    const example = use.written.startsWith("--")
      ? `'${use.written}=-XYZ'`
      : `'--${use.name}=-XYZ' or '${use.written}-XYZ'`;
    throw new ArgvError(
      "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
      `Option '${use.written}' argument is ambiguous.\nDid you forget to specify the option argument for '${use.written}'?\nTo specify an option argument starting with a dash use ${example}.`,
    );
  }
}
