import { describe, expect, it } from "vitest";
import { parseCommandArgs, splitGlobals, UsageError, usageLine } from "../../ipc/cli/args.js";
import type { CommandSpec } from "../../ipc/cli/commands.js";
import { COMMANDS, commandsUnder, findCommand } from "../../ipc/cli/commands.js";
import { ExitCode } from "../../ipc/cli/exit-codes.js";
import { describeFailure } from "../../ipc/cli/failure.js";
import { runCli } from "../../ipc/cli/run.js";
import { RpcCallError } from "../../ipc/rpc-error.js";

function spec(path: string): CommandSpec {
  const found = findCommand(path.split(" "));
  if (!found) throw new Error(`no command ${path}`);
  return found;
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    streams: { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } },
    env: { RMX_SOCKET: "/nonexistent/rmx-test.sock" },
  });
  return { code, out, err };
}

describe("the command table", () => {
  it("finds the longest registered path and lists groups", () => {
    expect(findCommand(["runtime", "status", "extra"])?.path).toEqual(["runtime", "status"]);
    expect(findCommand(["events"])?.path).toEqual(["events"]);
    expect(findCommand(["runtime"])).toBeUndefined();
    expect(commandsUnder("runtime").map((c) => c.path[1])).toEqual([
      "status",
      "restore",
      "start",
      "stop",
      "logs",
      "reload",
      "switch",
    ]);
    const paths = COMMANDS.map((c) => c.path.join(" "));
    expect(new Set(paths).size).toBe(paths.length);
  });

  it("loads a module with a run function for every command", async () => {
    for (const command of COMMANDS) {
      const mod = await command.load();
      expect(typeof mod.run, command.path.join(" ")).toBe("function");
    }
  });
});

describe("global flags", () => {
  it("are taken from anywhere before --", () => {
    const { globals, rest } = splitGlobals([
      "runtime",
      "--json",
      "status",
      "--socket",
      "/s",
      "--no-color",
      "-h",
    ]);
    expect(globals).toEqual({ socket: "/s", json: true, noColor: true, help: true, version: false });
    expect(rest).toEqual(["runtime", "status"]);
    expect(splitGlobals(["--socket=/x", "--", "--json"]).rest).toEqual(["--", "--json"]);
    expect(() => splitGlobals(["--socket"])).toThrow(UsageError);
    expect(() => splitGlobals(["--socket", "--json"])).toThrow(/--socket needs a value/);
  });
});

describe("command flags", () => {
  it("parse booleans, strings, shorts and repeats", () => {
    const restore = parseCommandArgs(spec("runtime restore"), ["--id", "a", "--no-restart", "--timeout=5s"]);
    expect(restore.values).toEqual({ id: "a", "no-restart": true, timeout: "5s" });
    expect(restore.command).toEqual(["runtime", "restore"]);
    expect(parseCommandArgs(spec("runtime logs"), ["--id", "a", "-n", "5", "-f"]).values).toEqual({
      id: "a",
      lines: "5",
      follow: true,
    });
    expect(parseCommandArgs(spec("events"), ["--topic", "a.*", "--topic", "b"]).values.topic).toEqual([
      "a.*",
      "b",
    ]);
    expect(parseCommandArgs(spec("config check"), ["x.yaml"]).positionals).toEqual(["x.yaml"]);
  });

  it("name the flag or word at fault", () => {
    const cases: Array<[string, string[], RegExp]> = [
      ["runtime status", ["--bogus"], /unknown flag --bogus for rmx runtime status/],
      ["runtime restore", [], /missing required flag --id/],
      ["runtime restore", ["--id"], /flag --id needs a value/],
      ["runtime restore", ["--id", "--wait"], /flag --id needs a value/],
      ["runtime restore", ["--id", "a", "--wait=yes"], /flag --wait takes no value/],
      ["runtime status", ["stray"], /unexpected argument "stray"/],
      ["config check", ["a", "b"], /unexpected argument "b"/],
    ];
    for (const [path, argv, message] of cases) {
      const command = spec(path);
      let caught: unknown;
      try {
        parseCommandArgs(command, argv);
      } catch (error) {
        caught = error;
      }
      expect(caught, `${path} ${argv.join(" ")}`).toBeInstanceOf(UsageError);
      expect((caught as UsageError).message).toMatch(message);
      expect((caught as UsageError).usage).toBe(usageLine(command));
    }
  });

  it("show required flags bare and optional ones in brackets", () => {
    expect(usageLine(spec("runtime restore"))).toBe(
      "usage: rmx runtime restore --id RT [--no-restart] [--reset-budget] [--wait] [--timeout DURATION]",
    );
    expect(usageLine(spec("config check"))).toBe("usage: rmx config check [FILE]");
  });
});

describe("failures", () => {
  it("map to exit codes: usage 2, denied 3, not running 4, else 1", () => {
    const socket = "/run/x.sock";
    expect(describeFailure(new UsageError("bad", "usage: x"), socket)).toEqual({
      exitCode: ExitCode.USAGE,
      lines: ["rmx: bad", "usage: x"],
      json: { error: { code: "USAGE", message: "bad", data: { usage: "usage: x" } } },
    });
    const exhausted = RpcCallError.local("BUDGET_EXHAUSTED", "no restarts left");
    expect(describeFailure(exhausted, socket).exitCode).toBe(ExitCode.DENIED);
    expect(describeFailure(RpcCallError.local("NO_ELIGIBLE_CELL", "x"), socket).exitCode).toBe(
      ExitCode.DENIED,
    );
    const notRunning = describeFailure(RpcCallError.local("DAEMON_NOT_RUNNING", "x"), socket);
    expect(notRunning.exitCode).toBe(ExitCode.NOT_RUNNING);
    expect(notRunning.lines.join("\n")).toMatch(/systemctl --user start rmxd/);
    const raw = Object.assign(new Error("connect ENOENT"), { code: "ENOENT", syscall: "connect" });
    expect(describeFailure(raw, socket).exitCode).toBe(ExitCode.NOT_RUNNING);
    const fileMissing = Object.assign(new Error("open ENOENT"), { code: "ENOENT", syscall: "open" });
    expect(describeFailure(fileMissing, socket).exitCode).toBe(ExitCode.ERROR);
    expect(describeFailure(RpcCallError.local("RUNTIME_NOT_FOUND", "no such runtime"), socket)).toEqual({
      exitCode: ExitCode.ERROR,
      lines: ["rmx: no such runtime [RUNTIME_NOT_FOUND]"],
      json: {
        error: { code: "RUNTIME_NOT_FOUND", message: "no such runtime", data: { code: "RUNTIME_NOT_FOUND" } },
      },
    });
    expect(describeFailure("weird", socket)).toEqual({
      exitCode: ExitCode.ERROR,
      lines: ["rmx: weird"],
      json: { error: { code: "ERROR", message: "weird" } },
    });
  });
});

describe("runCli without a daemon", () => {
  it("prints help with exit codes at every level", async () => {
    const root = await cli(["--help"]);
    expect(root.code).toBe(0);
    for (const command of COMMANDS) expect(root.out).toContain(command.path.join(" "));
    expect(root.out).toMatch(/4 +daemon not running/);
    const group = await cli(["runtime", "-h"]);
    expect(group.code).toBe(0);
    expect(group.out).toContain("runtime restore");
    const command = await cli(["runtime", "restore", "--help"]);
    expect(command.code).toBe(0);
    expect(command.out).toContain("--reset-budget");
    expect(command.out).toContain("3  denied");
  });

  it("answers usage errors with 2 and the usage line on stderr", async () => {
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(ExitCode.USAGE);
    expect(unknown.err).toMatch(/unknown command "frobnicate"/);
    const noSub = await cli(["runtime"]);
    expect(noSub.code).toBe(ExitCode.USAGE);
    expect(noSub.err).toMatch(/"rmx runtime" needs a command/);
    const bare = await cli([]);
    expect(bare.code).toBe(ExitCode.USAGE);
    expect(bare.err).toContain("usage: rmx");
    const timeout = await cli(["runtime", "restore", "--id", "a", "--wait", "--timeout", "soon"]);
    expect(timeout.code).toBe(ExitCode.USAGE);
    expect(timeout.err).toMatch(/--timeout: expected a duration/);
    // One meaning for a duration in text: a bare number has no unit to guess, so it is refused, not read as seconds.
    const bareNumber = await cli(["runtime", "restore", "--id", "a", "--wait", "--timeout", "30"]);
    expect(bareNumber.code).toBe(ExitCode.USAGE);
    expect(bareNumber.err).toMatch(/--timeout: expected a duration like 60s, 2m or 500ms, got "30"/);
  });

  it("documents how a DURATION flag reads in the command's help", async () => {
    const help = await cli(["runtime", "restore", "--help"]);
    expect(help.out).toContain("DURATION: a number with its unit");
    expect(help.out).toContain("A bare number is refused");
  });

  it("answers 4 with how to start the daemon when nothing listens", async () => {
    const result = await cli(["runtime", "status"]);
    expect(result.code).toBe(ExitCode.NOT_RUNNING);
    expect(result.err).toContain("/nonexistent/rmx-test.sock");
    expect(result.err).toMatch(/`rmxd`.*`systemctl --user start rmxd`/);
  });

  it("prints its version", async () => {
    const result = await cli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^rmx \d+\.\d+\.\d+/);
  });
});
