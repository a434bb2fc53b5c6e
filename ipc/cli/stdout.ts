import { writeSync } from "node:fs";

/**
 * process.stdout for the bin, built on first use (a pipe's is a net.Socket, which costs start-up time):
 * the commands build it while the daemon answers. Shared by the bin's fast status and the core.
 */
let stdout: NodeJS.WriteStream | undefined;

export function stdoutStream(): NodeJS.WriteStream {
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

/**
 * Writes `text` to fd 1 and exits 0 once it is out: the bin's fast status, whose one write is its
 * whole output. Written directly, without process.stdout, which on a pipe is a net.Socket: node:net
 * and the streams stack, ~3 ms to load, for one write (bare-pipe.ts). A closed pipe is a normal end,
 * as for stdoutStream. Whatever the direct write cannot take (a non-blocking stdout answering EAGAIN,
 * any other error, Windows' consoles) goes through stdoutStream as before, which decides the outcome.
 */
export function writeOutThenExit(text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let written = 0;
  if (process.platform !== "win32" && stdout === undefined) {
    try {
      while (written < bytes.length) {
        const n = writeSync(1, bytes, written);
        if (n <= 0) break;
        written += n;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EPIPE") process.exit(0);
    }
  }
  if (written === bytes.length) process.exit(0);
  stdoutStream().write(bytes.subarray(written), (error) => {
    if (error === null || error === undefined) process.exit(0);
  });
}
