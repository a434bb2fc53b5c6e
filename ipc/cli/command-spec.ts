/**
 * The shape of an `rmx` command and of its parsed arguments. Its own module so that the command modules
 * and the parser can use it without importing the registration table (which loads the command modules).
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
  /** The last argument only: takes every remaining word. */
  variadic?: boolean;
}

export interface ParsedCommandArgs {
  /** The command's words, e.g. ["runtime", "start"]: one module may serve several commands. */
  command: readonly string[];
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The command these were parsed for (its usage line goes into usage errors). */
  spec: CommandSpec;
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
