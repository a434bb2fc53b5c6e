#!/usr/bin/env node
/**
 * The `rmx` bin. Start-up must stay fast: this file only wires the process to `runCli`; commands load
 * their modules with `import()` when they run, and nothing here loads the daemon's heavy dependencies.
 */
import { runCli } from "./run.js";
import { stdoutStream } from "./stdout.js";

// No top-level await: the bin is bundled as CommonJS (scripts/bundle.mjs), which a CommonJS main starts faster.
void runCli(process.argv.slice(2), {
  streams: {
    stdout: {
      write: (text: string) => stdoutStream().write(text),
      get isTTY() {
        return stdoutStream().isTTY;
      },
      ready: () => {
        stdoutStream();
      },
    },
    // stderr is built on first write: a run that prints no error never builds its stream.
    stderr: { write: (text: string) => process.stderr.write(text) },
  },
  env: process.env,
}).then((code) => {
  process.exitCode = code;
  // Everything should be closed by now; if a stray handle lingers, do not hang the shell.
  setTimeout(() => process.exit(code), 1000).unref();
});
