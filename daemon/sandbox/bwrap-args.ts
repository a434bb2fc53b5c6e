/** bwrap arguments shared by wrapping (wrap.ts) and detection (detect.ts); its own module so neither imports the other. */

/**
 * What every bwrap sandbox shares: read-only system, fresh /dev and /proc, private /tmp, own PID/IPC/UTS
 * namespaces, dies with the daemon. Detection's trial run uses exactly this, so "available" means these work.
 */
export const BWRAP_ISOLATION_ARGS: readonly string[] = [
  "--die-with-parent",
  // No --new-session: the backend stays in the supervisor's process group, so the stop signal reaches it
  // (bwrap itself does not pass signals on) and the SIGKILL sweep reaches everything. stdin is /dev/null
  // and there is no controlling terminal, so the TIOCSTI concern --new-session guards against does not apply.
  "--unshare-pid",
  "--unshare-ipc",
  "--unshare-uts",
  "--ro-bind",
  "/",
  "/",
  "--dev",
  "/dev",
  "--proc",
  "/proc",
  "--tmpfs",
  "/tmp",
];
