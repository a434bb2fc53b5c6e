#!/usr/bin/env node
/**
 * The `rmx` bin as installed (dist/bin/rmx.cjs, scripts/bundle.mjs). `runtime status --json` alone, the
 * command scripts poll, is answered here when all goes well (fast-status.ts); everything else, and that
 * command when anything goes wrong, is the launcher's (launcher.ts, dist/bin/rmx-launcher.cjs): the code
 * cache and the CLI core.
 *
 * Two files, so the fast status compiles only what it runs: Node compiles a CommonJS entry whole on
 * every start, and the launcher's code-cache handling was a third of this file and ~0.7 ms of CPU (more
 * in wall time) of a ~27 ms run on Node 20.
 */
import { fastStatusSocket, runFastStatus } from "./fast-status.js";

/** The launcher, beside this file (the bundler keeps the require as it is). */
function launch(): void {
  (require("./rmx-launcher.cjs") as typeof import("./launcher.js")).launch();
}

const fastSocket = fastStatusSocket(process.argv.slice(2), process.env);
if (fastSocket === undefined) launch();
else runFastStatus(fastSocket, launch);
