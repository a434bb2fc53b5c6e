#!/usr/bin/env node
/**
 * The `rmx` bin as installed (dist/bin/rmx.cjs, scripts/bundle.mjs). `runtime status --json` alone, the
 * command scripts poll, is answered here when all goes well (fast-status.ts); everything else, and that
 * command when anything goes wrong, is the launcher's (launcher.ts, dist/bin/rmx-launcher.cjs): the code
 * cache and the CLI core.
 *
 * Two files, so the fast status compiles only what it runs: Node compiles a CommonJS entry whole on
 * every start, and the launcher's code-cache handling was a third of this file (~0.3 ms of CPU, 1-2 ms
 * of wall time, of a ~27 ms run on Node 20).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fastStatusSocket, runFastStatus } from "./fast-status.js";
import type { launch as Launch } from "./launcher.js";

const LAUNCHER = join(__dirname, "rmx-launcher.cjs");

/**
 * Compiles and runs the launcher as CommonJS would, without `require`: resolving a require (the
 * package.json reads of its self-reference check, a realpath) cost ~0.5 ms more than the compile, on
 * every command but the fast status. Its `import()` is this file's, which has a module loader.
 */
function launch(): void {
  const { Script } = process.getBuiltinModule("node:vm");
  const source = readFileSync(LAUNCHER, "utf8");
  const wrapper = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: LAUNCHER,
  }).runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {} as { launch: typeof Launch } };
  wrapper(module.exports, require, module, LAUNCHER, __dirname);
  module.exports.launch((specifier) => import(specifier));
}

const fastSocket = fastStatusSocket(process.argv.slice(2), process.env);
if (fastSocket === undefined) launch();
else runFastStatus(fastSocket, launch);
