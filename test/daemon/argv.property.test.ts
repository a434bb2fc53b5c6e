/**
 * daemon/argv.ts reads a command line as `util.parseArgs` does (strict, no positionals): the same values,
 * or an error with the same code and message, for command lines built from rmxd's own options, their
 * misspellings, groups of short letters, `=` forms, `--`, dashes and plain words.
 */
import { parseArgs } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArgvError, type OptionTable, parseArgv, RMXD_OPTIONS } from "../../daemon/argv.js";

type Outcome = { values: [string, unknown][] } | { error: { code: string; message: string } };

function outcome(run: () => Record<string, unknown>): Outcome {
  try {
    const values = run();
    return { values: Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { error: { code: String(e.code), message: e.message } };
  }
}

function ours(args: string[], table: OptionTable): Outcome {
  return outcome(() => parseArgv(args, table));
}

function node(args: string[], table: OptionTable): Outcome {
  return outcome(
    () =>
      parseArgs({
        args,
        options: { ...table },
        strict: true,
        allowPositionals: false,
      }).values,
  );
}

/** A table with a short letter that takes a value too (rmxd has none), so that branch is held as well. */
const WITH_SHORT_STRING: OptionTable = {
  ...RMXD_OPTIONS,
  file: { type: "string", short: "f" },
  quiet: { type: "boolean", short: "q" },
};

const words = [
  "--config",
  "--config=a.yaml",
  "--config=",
  "--socket",
  "--state-dir",
  "--state-dir=/tmp/s",
  "--http",
  "--http=off",
  "--system",
  "--system=yes",
  "--pretty",
  "--log-level",
  "--log-level=debug",
  "--version",
  "--help",
  "--help=",
  "-v",
  "-h",
  "-vh",
  "-hv",
  "-vx",
  "-xv",
  "-x",
  "-f",
  "-fa.yaml",
  "-qf",
  "-qfa",
  "-fq",
  "-q",
  "-",
  "--",
  "---x",
  "--=x",
  "--=x=y",
  "--nope",
  "--nope=1",
  "--__proto__",
  "--constructor",
  "-=",
  "a",
  "-a",
  "",
  "x=y",
  "-1",
  "--file",
  "--file=-z",
  "-vhv",
];

const argvs = fc.array(fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 6 })), { maxLength: 6 });

describe("parseArgv reads a command line as util.parseArgs does", () => {
  it("over generated command lines, for rmxd's options", () => {
    fc.assert(
      fc.property(argvs, (args) => {
        expect(ours(args, RMXD_OPTIONS)).toEqual(node(args, RMXD_OPTIONS));
      }),
      {
        numRuns: 3000,
      },
    );
  });

  it("over generated command lines, with a short option that takes a value", () => {
    fc.assert(
      fc.property(argvs, (args) => {
        expect(ours(args, WITH_SHORT_STRING)).toEqual(node(args, WITH_SHORT_STRING));
      }),
      { numRuns: 3000 },
    );
  });

  it("the cases rmxd's users meet, by name", () => {
    const cases: string[][] = [
      [],
      ["--config", "rmx.yaml", "--http", "127.0.0.1:0"],
      ["--config"],
      ["--config", "--socket", "s"],
      ["--no-such-flag"],
      ["--system=1"],
      ["extra"],
      ["--", "extra"],
      ["-vh"],
    ];
    for (const args of cases)
      expect(ours(args, RMXD_OPTIONS), args.join(" ")).toEqual(node(args, RMXD_OPTIONS));
    expect(() => parseArgv(["--no-such-flag"], RMXD_OPTIONS)).toThrow(ArgvError);
    expect(() => parseArgv(["--no-such-flag"], RMXD_OPTIONS)).toThrow("Unknown option '--no-such-flag'");
    expect(parseArgv([], RMXD_OPTIONS)).toEqual(Object.assign(Object.create(null), { system: false }));
  });
});
