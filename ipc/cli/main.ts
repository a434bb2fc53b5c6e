#!/usr/bin/env node
/**
 * The `rmx` bin. Start-up must stay fast: this file only wires the process to `runCli`; commands load
 * their modules with `import()` when they run, and nothing here loads the daemon's heavy dependencies.
 */
import { runCli } from "./run.js";

let stdout: NodeJS.WriteStream | undefined;

/** process.stdout, built on first use (a pipe's is a net.Socket): runtime-status builds it while the daemon answers. */
function stdoutStream(): NodeJS.WriteStream {
  if (stdout === undefined) {
    stdout = process.stdout;
    // `rmx events | head` closes the pipe early: that is a normal end, not a crash.
    stdout.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(0);
      throw error;
    });
  }
  return stdout;
}

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
