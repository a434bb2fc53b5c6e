/** What every command gets: where the daemon is, how to print, and how to wait for Ctrl-C. */
import type { RmxClient } from "../client.js";
import type { Palette } from "./format.js";

export interface CliStreams {
  stdout: {
    write(text: string): unknown;
    isTTY?: boolean;
    /** Builds the stream now if it is built on first use (main.ts): see CliContext.readyOutput. */
    ready?(): void;
  };
  stderr: { write(text: string): unknown };
}

export interface CliContext {
  socketPath: string;
  json: boolean;
  /** stdout is a terminal: colours (unless disabled) and screen redraws are allowed. */
  isTTY: boolean;
  palette: Palette;
  env: NodeJS.ProcessEnv;
  /** Writes one line to stdout. */
  out(line: string): void;
  /** Writes raw text to stdout (no newline added). */
  write(text: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  /**
   * Gets stdout ready to write (its stream costs about a millisecond to build): a command calls this
   * right after sending its request, so that work overlaps the daemon's instead of following it.
   */
  readyOutput(): void;
  /** Connects to the daemon; a daemon that is not running throws with stableCode DAEMON_NOT_RUNNING. */
  connect(): Promise<RmxClient>;
  /** Resolves on SIGINT or SIGTERM (Ctrl-C ends watch and follow modes with exit 0). */
  interrupted(): Promise<NodeJS.Signals>;
}

export function createContext(opts: {
  socketPath: string;
  json: boolean;
  /** Called once, when a command first asks for colours or whether stdout is a terminal. */
  palette: () => Palette;
  streams: CliStreams;
  env: NodeJS.ProcessEnv;
}): CliContext {
  const { streams } = opts;
  let palette: Palette | undefined;
  return {
    socketPath: opts.socketPath,
    json: opts.json,
    // Asked for only by what prints for a person: `--json` output never builds stdout's stream early.
    get isTTY() {
      return streams.stdout.isTTY === true;
    },
    get palette() {
      palette ??= opts.palette();
      return palette;
    },
    env: opts.env,
    out: (line) => {
      streams.stdout.write(`${line}\n`);
    },
    write: (text) => {
      streams.stdout.write(text);
    },
    err: (line) => {
      streams.stderr.write(`${line}\n`);
    },
    readyOutput: () => {
      streams.stdout.ready?.();
    },
    connect: async () => {
      const { RmxClient } = await import("../client.js");
      return RmxClient.connect({ socketPath: opts.socketPath });
    },
    interrupted: () =>
      new Promise((resolve) => {
        const onSignal = (signal: NodeJS.Signals): void => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolve(signal);
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      }),
  };
}
