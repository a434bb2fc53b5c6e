/** `rmx` from argv to exit code: globals, help, command lookup, flag checks, then the command's module. */
import { defaultSocketPath } from "../socket-path.js";
import { leadingWords, parseCommandArgs, splitGlobals, UsageError } from "./args.js";
import { commandsUnder, findCommand } from "./commands.js";
import type { CliStreams } from "./context.js";
import { createContext } from "./context.js";
import { ExitCode } from "./exit-codes.js";
import { describeFailure } from "./failure.js";
import { colorEnabled, createPalette } from "./format.js";
import { commandHelp, groupHelp, rootHelp } from "./help.js";
import { cliVersion } from "./package-version.js";

export interface CliIo {
  streams: CliStreams;
  env: NodeJS.ProcessEnv;
}

function resolveSocket(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined) return flag;
  if (env.RMX_SOCKET !== undefined && env.RMX_SOCKET !== "") return env.RMX_SOCKET;
  return defaultSocketPath({ env });
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { streams, env } = io;
  const print = (text: string): void => {
    streams.stdout.write(`${text}\n`);
  };
  let socketPath = "";
  // Known before the globals are parsed (a usage error may come from them): `--json` anywhere asks for it.
  const beforeDashes = argv.indexOf("--") < 0 ? argv : argv.slice(0, argv.indexOf("--"));
  let json = beforeDashes.includes("--json");
  try {
    const { globals, rest } = splitGlobals(argv);
    json = globals.json;
    socketPath = resolveSocket(globals.socket, env);
    const words = leadingWords(rest);
    const first = words[0];
    if (first === undefined) {
      if (globals.version) {
        print(`rmx ${await cliVersion()}`);
        return ExitCode.OK;
      }
      if (globals.help) {
        print(rootHelp(socketPath));
        return ExitCode.OK;
      }
      if (rest.length > 0)
        throw new UsageError(
          `unknown flag ${rest[0]}`,
          "usage: rmx [--socket PATH] [--json] [--no-color] <command> [flags]",
        );
      streams.stderr.write(`${rootHelp(socketPath)}\n`);
      return ExitCode.USAGE;
    }
    const spec = findCommand(words);
    if (spec === undefined) {
      if (commandsUnder(first).length === 0) {
        throw new UsageError(
          `unknown command "${first}"`,
          'usage: rmx <command> [flags] (run "rmx --help" for the list)',
        );
      }
      if (globals.help && words.length === 1) {
        print(groupHelp(first));
        return ExitCode.OK;
      }
      const message =
        words[1] === undefined
          ? `"rmx ${first}" needs a command`
          : `unknown command "${words[1]}" for "rmx ${first}"`;
      throw new UsageError(message, groupHelp(first));
    }
    if (globals.help) {
      print(commandHelp(spec, socketPath));
      return ExitCode.OK;
    }
    const args = parseCommandArgs(spec, rest.slice(spec.path.length));
    const palette = () =>
      createPalette(colorEnabled({ isTTY: streams.stdout.isTTY, noColorFlag: globals.noColor, env }));
    const ctx = createContext({ socketPath, json: globals.json, palette, streams, env });
    const command = await spec.load();
    return await command.run(ctx, args);
  } catch (error) {
    const failure = describeFailure(error, socketPath, env);
    streams.stderr.write(json ? `${JSON.stringify(failure.json)}\n` : `${failure.lines.join("\n")}\n`);
    return failure.exitCode;
  }
}
