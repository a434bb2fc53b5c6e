/**
 * process.stdout for the bin, built on first use (a pipe's is a net.Socket, which costs start-up time):
 * the commands build it while the daemon answers. Shared by the launcher's fast status and the core.
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
