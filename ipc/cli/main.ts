#!/usr/bin/env node
/**
 * The `rmx` bin. Start-up must stay fast: this file only wires the process to `runCli`; commands load
 * their modules with `import()` when they run, and nothing here loads the daemon's heavy dependencies.
 */
import { runCli } from "./run.js";

// `rmx events | head` closes the pipe early: that is a normal end, not a crash.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

// No top-level await: the bin is bundled as CommonJS (scripts/bundle.mjs), which a CommonJS main starts faster.
void runCli(process.argv.slice(2), {
  // stderr is created on first write: a run that prints no error never builds its stream.
  streams: { stdout: process.stdout, stderr: { write: (text: string) => process.stderr.write(text) } },
  env: process.env,
}).then((code) => {
  process.exitCode = code;
  // Everything should be closed by now; if a stray handle lingers, do not hang the shell.
  setTimeout(() => process.exit(code), 1000).unref();
});
