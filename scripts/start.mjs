#!/usr/bin/env node
// `npm start`: rmxd in the foreground with the Node options and environment its service files pass
// (packaging/node-options.ts), so a trial run uses the memory a service does. Arguments go to rmxd.
// rmxd is a child here (the environment has to exist before its C library starts); this process only
// relays stop and reload signals and exits as rmxd did.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { DAEMON_ENVIRONMENT, DAEMON_NODE_OPTIONS } = await import(
  pathToFileURL(path.join(repo, "dist/packaging/node-options.js")).href
);
// A value already in the environment is the user's choice and wins.
const env = { ...DAEMON_ENVIRONMENT, ...process.env };
const rmxd = spawn(
  process.execPath,
  [...DAEMON_NODE_OPTIONS, path.join(repo, "dist/bin/rmxd.cjs"), ...process.argv.slice(2)],
  { stdio: "inherit", env },
);
// Ctrl-C reaches rmxd from the terminal itself (same process group): relaying it would be a second
// SIGINT, which rmxd takes as "exit now". SIGTERM and SIGHUP sent to this pid are passed on.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => rmxd.kill(signal));
rmxd.on("error", (error) => {
  process.stderr.write(`npm start: could not start rmxd: ${error.message}\n`);
  process.exitCode = 1;
});
rmxd.on("exit", (code, signal) => {
  if (signal !== null) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exitCode = code ?? 1;
});
