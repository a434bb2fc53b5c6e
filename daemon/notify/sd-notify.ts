/**
 * systemd's notify protocol (`Type=notify`): READY=1 once serving, WATCHDOG=1 pings, STOPPING=1,
 * RELOADING=1, STATUS=….
 *
 * Node has no Unix datagram sockets (`dgram` is UDP only) and the protocol needs one, so messages go out
 * through the `systemd-notify` tool, spawned asynchronously. It waits (BARRIER=1) until systemd has read
 * each message, so the manager can still attribute it to our cgroup; `--pid=<our pid>` makes systemd
 * attribute it to the daemon itself when the daemon may send those credentials (root). The unit must
 * say `NotifyAccess=all`, because the sender is a child process, not the main PID.
 *
 * Without NOTIFY_SOCKET (not under systemd) every call is a no-op that resolves at once and never fails.
 */
import { spawn } from "node:child_process";

export interface NotifyOutcome {
  sent: boolean;
  /** Why nothing was sent (not under systemd, tool missing, tool failed). */
  reason?: string;
}

export interface Notifier {
  /** NOTIFY_SOCKET is set: the service manager listens. */
  readonly enabled: boolean;
  /** The first problem met sending (e.g. systemd-notify missing); later sends still try. */
  readonly problem: string | undefined;
  ready(status?: string): Promise<NotifyOutcome>;
  watchdog(): Promise<NotifyOutcome>;
  stopping(): Promise<NotifyOutcome>;
  reloading(): Promise<NotifyOutcome>;
  status(text: string): Promise<NotifyOutcome>;
  /**
   * Pings WATCHDOG=1 every half of WATCHDOG_USEC, when it is set and WATCHDOG_PID is absent or ours.
   * Returns the function that stops the pings. The timer does not keep the process alive.
   */
  startWatchdog(): () => void;
}

export interface NotifierOptions {
  /** The tool to run; tests may point elsewhere. */
  command?: string;
  /** Told once, on the first problem (the daemon logs it). */
  onProblem?: (message: string) => void;
  /** How long one send may take before the tool is killed (a hung manager must not hang the daemon). */
  sendTimeoutMs?: number;
  pid?: number;
}

const NOT_UNDER_SYSTEMD: NotifyOutcome = { sent: false, reason: "NOTIFY_SOCKET is not set" };

/** `WATCHDOG_USEC` as milliseconds between pings (half the interval), or undefined when no watchdog is ours. */
export function watchdogPingIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const watchdogPid = env.WATCHDOG_PID;
  if (watchdogPid !== undefined && watchdogPid !== "" && Number(watchdogPid) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** STATUS= must be one line: systemd reads the datagram as newline-separated assignments. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").trim();
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env, opts: NotifierOptions = {}): Notifier {
  const socket = env.NOTIFY_SOCKET;
  const enabled = socket !== undefined && socket !== "";
  const command = opts.command ?? "systemd-notify";
  const pid = opts.pid ?? process.pid;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 5000;
  let problem: string | undefined;
  // Sends go out one at a time so READY=1 can never overtake an earlier STATUS or follow a later STOPPING.
  let queue: Promise<unknown> = Promise.resolve();

  const noteProblem = (message: string): void => {
    if (problem !== undefined) return;
    problem = message;
    opts.onProblem?.(message);
  };

  const sendNow = (assignments: string[]): Promise<NotifyOutcome> =>
    new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: NotifyOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (outcome.reason !== undefined) noteProblem(outcome.reason);
        resolve(outcome);
      };
      let stderr = "";
      const child = spawn(command, [`--pid=${pid}`, ...assignments], {
        env: { ...env, NOTIFY_SOCKET: socket },
        stdio: ["ignore", "ignore", "pipe"],
      });
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        finish({ sent: false, reason: `${command} did not finish within ${sendTimeoutMs} ms` });
      }, sendTimeoutMs);
      timer.unref();
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        if (stderr.length < 2000) stderr += chunk;
      });
      child.on("error", (error: NodeJS.ErrnoException) => {
        finish({
          sent: false,
          reason:
            error.code === "ENOENT"
              ? `${command} not found on PATH: systemd will not see readiness or watchdog pings`
              : `${command} could not run: ${error.message}`,
        });
      });
      child.on("close", (code, signal) => {
        if (code === 0) finish({ sent: true });
        else {
          const why = stderr.trim() || (signal ? `killed by ${signal}` : `exit code ${code}`);
          finish({ sent: false, reason: `${command} failed: ${why}` });
        }
      });
    });

  const send = (assignments: string[]): Promise<NotifyOutcome> => {
    if (!enabled) return Promise.resolve(NOT_UNDER_SYSTEMD);
    const next = queue.then(() => sendNow(assignments));
    queue = next;
    return next;
  };

  return {
    enabled,
    get problem() {
      return problem;
    },
    ready: (status) => send(status === undefined ? ["READY=1"] : ["READY=1", `STATUS=${oneLine(status)}`]),
    watchdog: () => send(["WATCHDOG=1"]),
    stopping: () => send(["STOPPING=1"]),
    reloading: () => send(["RELOADING=1"]),
    status: (text) => send([`STATUS=${oneLine(text)}`]),
    startWatchdog: () => {
      const interval = enabled ? watchdogPingIntervalMs(env, pid) : undefined;
      if (interval === undefined) return () => {};
      const timer = setInterval(() => {
        void send(["WATCHDOG=1"]);
      }, interval);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
