/** What every command gets: where the daemon is, how to print, and how to wait for Ctrl-C. */
import type { RmxClient } from "../client.js";
import type { Palette } from "./format.js";

export interface CliStreams {
  stdout: { write(text: string): unknown; isTTY?: boolean };
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
  /** Connects to the daemon; a daemon that is not running throws with stableCode DAEMON_NOT_RUNNING. */
  connect(): Promise<RmxClient>;
  /** Resolves on SIGINT or SIGTERM (Ctrl-C ends watch and follow modes with exit 0). */
  interrupted(): Promise<NodeJS.Signals>;
}

export function createContext(opts: {
  socketPath: string;
  json: boolean;
  palette: Palette;
  streams: CliStreams;
  env: NodeJS.ProcessEnv;
}): CliContext {
  const { streams } = opts;
  return {
    socketPath: opts.socketPath,
    json: opts.json,
    isTTY: streams.stdout.isTTY === true,
    palette: opts.palette,
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
