/**
 * The daemon's logger: JSON lines to stderr (journald and launchd keep them), pretty when stderr is
 * a terminal or `--pretty` is given. pino-pretty is loaded only then, and runs in this thread as a
 * stream (not a transport worker): no second isolate, and it resolves from node_modules even when the
 * daemon runs from its bundle.
 */
import { createRequire } from "node:module";
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from "pino";

export interface LogOptions {
  level: LevelWithSilent;
  pretty: boolean;
}

type PrettyFactory = (options: {
  destination: number;
  colorize: boolean;
  sync: boolean;
}) => DestinationStream;

export function createLogger(opts: LogOptions): Logger {
  const base = { level: opts.level, base: { pid: process.pid } };
  if (opts.pretty) {
    const pretty = createRequire(import.meta.url)("pino-pretty") as PrettyFactory;
    return pino(base, pretty({ destination: 2, colorize: !process.env.NO_COLOR, sync: false }));
  }
  return pino(base, pino.destination({ dest: 2, sync: false }));
}

export function resolveLogLevel(configured: string | undefined, env: NodeJS.ProcessEnv): LevelWithSilent {
  const wanted = (env.RMX_LOG_LEVEL ?? configured ?? "info").toLowerCase();
  const known: LevelWithSilent[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
  return (known as string[]).includes(wanted) ? (wanted as LevelWithSilent) : "info";
}
