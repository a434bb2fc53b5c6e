/**
 * The bin entries run the esbuild bundles in dist/bin/ (scripts/bundle.mjs): they must behave as the
 * tsc output does, resolve the paths their modules derive from import.meta.url (the stub, package.json),
 * read no module from node_modules on a plain status, and load pino-pretty only when asked.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RpcCallError } from "../../ipc/client.js";
import { type DaemonHandle, REPO, startDaemon, stopAll } from "../support/daemon-harness.js";

const BIN_RMXD = path.join(REPO, "dist/bin/rmxd.cjs");
/** The ES module twin of the daemon bundle, for `node dist/bin/rmxd.js`. */
const BIN_RMXD_ESM = path.join(REPO, "dist/bin/rmxd.js");
const BIN_RMX = path.join(REPO, "dist/bin/rmx.cjs");
/** The ES module twin of the CLI bundle, for `node dist/bin/rmx.js`. */
const BIN_RMX_ESM = path.join(REPO, "dist/bin/rmx.js");

function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeArgs, script, ...args],
      { env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 30_000 },
      (error, out, err) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out, err }),
    );
  });
}

afterEach(stopAll);

/** Module names from a `process.moduleLoadList` dump, one per line, without Node's "NativeModule " prefix. */
function moduleNames(text: string): string[] {
  return text.split("\n").map((m) => m.replace(/^NativeModule /, ""));
}

describe("bundled entries", () => {
  const tracer = mkdtemp(path.join(os.tmpdir(), "rmx-bundle-trace-"));
  afterAll(async () => rm(await tracer, { recursive: true, force: true }));

  /**
   * Node's own modules the bundled daemon loaded in its life (`process.moduleLoadList` at its exit),
   * started with `args` and stopped after `meanwhile`. The preload is CommonJS: an ES module one would
   * itself set up Node's ES module loader.
   */
  async function daemonModules(
    name: string,
    args: string[],
    meanwhile: (daemon: DaemonHandle) => Promise<void> = async () => {},
  ): Promise<string[]> {
    const dir = await tracer;
    const list = path.join(dir, `${name}-modules.txt`);
    const preload = path.join(dir, `${name}-module-list.cjs`);
    await writeFile(
      preload,
      'if (process.argv[1]?.endsWith("rmxd.cjs")) process.on("exit", () => require("node:fs").writeFileSync(process.env.RMX_MODULE_LIST, process.moduleLoadList.join("\\n")));\n',
    );
    const daemon = await startDaemon({
      entry: BIN_RMXD,
      ready: ["llama-stub"],
      args,
      env: { NODE_OPTIONS: `--require ${preload}`, RMX_MODULE_LIST: list },
    });
    await meanwhile(daemon);
    await daemon.stop();
    return moduleNames(await readFile(list, "utf8"));
  }

  it("package.json's bin entries are the bundles", () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8"));
    expect(pkg.bin.rmxd).toBe("dist/bin/rmxd.cjs");
    expect(pkg.bin.rmx).toBe("dist/bin/rmx.cjs");
    expect(readFileSync(BIN_RMXD, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(readFileSync(BIN_RMX, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(readFileSync(BIN_RMX_ESM, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(readFileSync(BIN_RMXD_ESM, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  it("print the package version (package.json found from the bundle)", async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8"));
    expect((await run(BIN_RMXD, ["--version"])).out.trim()).toBe(`rmxd ${version}`);
    expect((await run(BIN_RMXD_ESM, ["--version"])).out.trim()).toBe(`rmxd ${version}`);
    expect((await run(BIN_RMX, ["--version"])).out.trim()).toBe(`rmx ${version}`);
    expect((await run(BIN_RMX_ESM, ["--version"])).out.trim()).toBe(`rmx ${version}`);
  });

  it("the bundled daemon runs the embedded stub runtime, and the bundled CLI reads it from the bundle alone", async () => {
    const daemon = await startDaemon({ entry: BIN_RMXD, ready: ["llama-stub"] });
    const dir = await tracer;
    await writeFile(
      path.join(dir, "hooks.mjs"),
      'import { appendFileSync } from "node:fs";\n' +
        "export async function load(url, context, next) {\n" +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source for the hook file
        "  appendFileSync(process.env.RMX_TRACE_FILE, `${url}\\n`);\n" +
        "  return next(url, context);\n" +
        "}\n",
    );
    await writeFile(
      path.join(dir, "register.mjs"),
      'import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n',
    );
    const trace = path.join(dir, "trace.txt");
    await writeFile(trace, "");
    const status = await run(
      BIN_RMX,
      ["runtime", "status", "--json"],
      { RMX_SOCKET: daemon.socket, RMX_TRACE_FILE: trace },
      ["--import", path.join(dir, "register.mjs")],
    );
    expect(status.err).toBe("");
    expect(status.code).toBe(0);
    const runtimes = JSON.parse(status.out).runtimes as Array<{ id: string; state: string }>;
    expect(runtimes.find((r) => r.id === "llama-stub")?.state).toBe("ready");
    const loaded = (await readFile(trace, "utf8"))
      .split("\n")
      .filter(
        (url) => url.startsWith("file:") && !url.includes("/register.mjs") && !url.includes("/hooks.mjs"),
      );
    expect(loaded.length).toBeGreaterThan(0);
    expect(loaded.filter((url) => !url.includes("/dist/bin/"))).toEqual([]);
    // The status path is one file: no chunk, no other command's module (scripts/bundle.mjs).
    expect(loaded.filter((url) => url.includes("/dist/bin/"))).toEqual([pathToFileURL(BIN_RMX).href]);
  });

  it("a lazily loaded command of the bundled CLI fails a usage check as the unbundled one does (exit 2, same lines)", async () => {
    const args = ["runtime", "logs", "--id", "x", "--lines", "abc"];
    const env = { RMX_SOCKET: path.join(os.tmpdir(), "rmx-bundle-no-daemon.sock") };
    const bundled = await run(BIN_RMX, args, env);
    const unbundled = await run(path.join(REPO, "dist/ipc/cli/main.js"), args, env);
    expect(bundled.code).toBe(2);
    expect(bundled.err).toBe(
      'rmx: flag -n/--lines: expected a whole number, got "abc"\nusage: rmx runtime logs --id RT [--lines N] [--follow]\n',
    );
    expect(bundled).toEqual(unbundled);
  });

  it("a lazily loaded command of the bundled CLI resolves paths from its own module (service install names the daemon entry)", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-bundle-service-"));
    try {
      const args = ["service", "install", "--dry-run", "--target-dir", dir];
      const bundled = await run(BIN_RMX, args);
      const unbundled = await run(path.join(REPO, "dist/ipc/cli/main.js"), args);
      expect(bundled.err).toBe("");
      expect(bundled.code).toBe(0);
      expect(bundled.out).toContain(BIN_RMXD); // the service runs the bundle
      expect(bundled.out).toBe(unbundled.out);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the daemon's bundle is one strict CommonJS file that sets its V8 flags before the daemon's modules run", () => {
    const bundle = readFileSync(BIN_RMXD, "utf8");
    // A "use strict" after anything else would be no directive: the daemon would run in sloppy mode.
    expect(bundle.startsWith('#!/usr/bin/env node\n"use strict";')).toBe(true);
    expect(/\bimport\(/.test(bundle.replaceAll('import("systeminformation")', ""))).toBe(false);
    const tuning = bundle.indexOf("--semi-space-growth-factor=1");
    expect(tuning).toBeGreaterThan(0);
    // The first module body that runs is daemon/v8-tuning.ts's (esbuild keeps the import order).
    const daemonModule = bundle.indexOf("configuration not reloaded"); // a message of daemon/daemon.ts
    expect(daemonModule).toBeGreaterThan(0);
    expect(bundle.indexOf("applyDaemonV8Flags()")).toBeLessThan(daemonModule);
  });

  it("loads no more of Node's ES module loader than a bare node does (on Node 20 an ES module entry costs its modules' memory for good)", async () => {
    const loaded = await daemonModules("esm", []);
    expect(loaded).toContain("child_process");
    // No more of the loader than a bare `node -e` has (Node 22+ sets all of it up for every entry).
    const bare = await run("-e", ['process.stdout.write(process.moduleLoadList.join("\\n"))']);
    const esm = (list: string[]) => list.filter((m) => m.includes("internal/modules/esm/"));
    const bareEsm = new Set(esm(moduleNames(bare.out)));
    expect(bareEsm.size).toBeGreaterThan(0);
    expect(esm(loaded).filter((m) => !bareEsm.has(m))).toEqual([]);
  });

  it("the daemon's bundle is ASCII, so V8 holds its source (kept for the process's life) one byte per character", () => {
    const dir = path.join(REPO, "dist/bin");
    const daemonFiles = readdirSync(dir).filter((f) => f.startsWith("rmxd."));
    expect(daemonFiles).toEqual(["rmxd.cjs", "rmxd.js"]);
    for (const file of daemonFiles) {
      const text = readFileSync(path.join(dir, file), "latin1");
      const at = text.search(/[^\x00-\x7f]/);
      expect(at, `${file}: a non-ASCII byte at ${at}: ${JSON.stringify(text.slice(at - 40, at + 40))}`).toBe(
        -1,
      );
    }
  });

  it("the daemon's bundle holds no YAML parser or config schema: its config loader, rmx-config.cjs, does", () => {
    const daemon = readFileSync(BIN_RMXD, "utf8");
    const loader = readFileSync(path.join(REPO, "dist/bin/rmx-config.cjs"), "utf8");
    // yaml's document parser and the config schema's builder, by the names they keep in the bundle.
    for (const marker of ["parseDocument", "buildConfigFileSchema"]) {
      expect(daemon.includes(marker), marker).toBe(false);
      expect(loader.includes(marker), marker).toBe(true);
    }
  });

  it("the bundled daemon validates a reloaded configuration with a schema built for that parse", async () => {
    const h = await startDaemon({ entry: BIN_RMXD, config: "runtimes: []\n" });
    const file = h.configPath as string;
    const c = await h.client();
    await writeFile(file, "log_level: info\nruntimes:\n  - id: a\n    adapter: nope\n");
    const error = await c.call("config.reload").catch((e: unknown) => e);
    expect(error, String(error)).toBeInstanceOf(RpcCallError);
    expect((error as RpcCallError).message).toContain(`${file}:4:5: runtimes[0].adapter: expected one of`);
    await writeFile(file, "log_level: info\nruntimes: []\n");
    expect(await c.call("config.reload")).toMatchObject({ added: [], removed: [], changed: [] });
    await writeFile(file, "log_level: info\nruntimes: []\nhttp: { listen: nowhere }\n");
    const again = await c.call("config.reload").catch((e: unknown) => e);
    expect((again as RpcCallError).message, String(again)).toContain(`${file}:3`);
  });

  it("the bundled daemon takes builtins without ES module facades: none of the modules their lazy exports would load", async () => {
    const loaded = await daemonModules("facades", ["--http", "127.0.0.1:0"], async (daemon) => {
      expect((await daemon.status()).runtimes.length).toBe(1);
    });
    expect(loaded).toContain("http"); // the gateway is on
    expect(loaded).toContain("child_process");
    // Loaded by node:http's facade (Node 22+), node:util's descriptors (Node 24), pino's transports, zlib's crc32;
    // node:crypto for random bytes and SHA-256 (base/entropy.ts), the global `performance` (base/monotonic.ts),
    // node:fs/promises for the file system calls (base/fs-async.ts), node:timers/promises for a yield, util.parseArgs for the flags.
    const unwanted = [
      "worker_threads",
      "assert",
      "zlib",
      "tls",
      "http2",
      "internal/deps/undici/undici",
      "crypto",
      "internal/perf/performance",
      // node:fs/promises and what it loads as it starts on Node 24 (base/fs-async.ts).
      "fs/promises",
      "internal/fs/promises",
      "internal/readline/interface",
      "internal/repl/history",
      // a promise of the next turn is one line (ipc/server/dispatch.ts); rmxd reads its flags itself (daemon/argv.ts).
      "timers/promises",
      "internal/util/parse_args/parse_args",
    ];
    expect(loaded.filter((m) => unwanted.includes(m))).toEqual([]);
    // Nor any part of node:crypto or its binding (OpenSSL's set-up).
    expect(loaded.filter((m) => /crypto/.test(m))).toEqual([]);
  });

  it("the daemon's bundle never compares strings through ICU's collator (localeCompare)", () => {
    // The first localeCompare loads ICU's collation data into RSS for good: 2.9 MiB on Node 20, 3.2 on 24.
    const dir = path.dirname(BIN_RMXD);
    const files = readdirSync(dir).filter((f) => f.endsWith(".js") || f.endsWith(".cjs"));
    expect(files).toContain("rmxd.cjs");
    const calls = files.filter((f) => readFileSync(path.join(dir, f), "utf8").includes(".localeCompare("));
    expect(calls).toEqual([]);
  });

  it("the daemon's bundle never formats a time through V8's toISOString or toUTCString (ICU's time zone data)", () => {
    // Either pages in 0.6 MiB of ICU's data for good (resident pages of icudt*_dat, Node 20 and 24);
    // rfc3339 (base/clock.ts) prints the same text from the UTC fields. pino's isoTime is bundled, unused.
    const bundle = readFileSync(BIN_RMXD, "utf8");
    expect(bundle).toContain("function rfc3339(");
    const rest = bundle.replaceAll("new Date(Date.now()).toISOString()", "");
    expect(rest.match(/\.to(ISO|UTC)String\(/g) ?? []).toEqual([]);
  });

  it("takeBuiltinsDirectly rewrites each static import of a builtin into what it imports, and nothing else", async () => {
    const { takeBuiltinsDirectly } = (await import(
      pathToFileURL(path.join(REPO, "scripts/bundle.mjs")).href
    )) as {
      takeBuiltinsDirectly: (text: string) => string | undefined;
    };
    const get = (m: string) => `process.getBuiltinModule("${m}")`;
    expect(takeBuiltinsDirectly('import fs from "node:fs";\nfs.x();')).toBe(
      `const fs = ${get("node:fs")};\nfs.x();`,
    );
    expect(takeBuiltinsDirectly('import { a, b as c } from "node:util";')).toBe(
      `const { a, b: c } = ${get("node:util")};`,
    );
    expect(takeBuiltinsDirectly("import path, { join } from 'path'")).toBe(
      `const path = ${get("node:path")}; const { join } = path;`,
    );
    expect(takeBuiltinsDirectly('import * as os from "node:os";')).toBe(`const os = ${get("node:os")};`);
    expect(takeBuiltinsDirectly('import { default as u, inspect } from "node:util";')).toBe(
      `const u = ${get("node:util")}; const { inspect } = ${get("node:util")};`,
    );
    expect(takeBuiltinsDirectly('import "node:v8";')).toBe(`${get("node:v8")};`);
    expect(takeBuiltinsDirectly('import { readFile } from "node:fs/promises";')).toBe(
      `const { readFile } = ${get("node:fs/promises")};`,
    );
    expect(takeBuiltinsDirectly('import { z } from "zod";\nconst s = `import x from "y"`;')).toBeUndefined();
  });

  it("the bundled daemon logs JSON by default and loads pino-pretty for --pretty", async () => {
    const plain = await startDaemon({ entry: BIN_RMXD, config: "runtimes: []\n" });
    expect(plain.stderr()).toMatch(/^\{"level":30,/m);
    await plain.stop();
    const pretty = await startDaemon({ entry: BIN_RMXD, config: "runtimes: []\n", args: ["--pretty"] });
    await pretty.stop();
    expect(pretty.stderr()).toMatch(/INFO.*rmxd ready/);
    expect(pretty.stderr()).not.toMatch(/^\{"level"/m);
  });
});
