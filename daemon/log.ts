/**
 * The daemon's logger: JSON lines to stderr (journald and launchd keep them), pretty when stderr is
 * a terminal or `--pretty` is given. The pretty transport is loaded only then.
 */
import { type LevelWithSilent, type Logger, pino } from "pino";

export interface LogOptions {
  level: LevelWithSilent;
  pretty: boolean;
}

export function createLogger(opts: LogOptions): Logger {
  if (opts.pretty) {
    return pino({
      level: opts.level,
      base: { pid: process.pid },
      transport: { target: "pino-pretty", options: { destination: 2, colorize: !process.env.NO_COLOR } },
    });
  }
  return pino({ level: opts.level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}

export function resolveLogLevel(configured: string | undefined, env: NodeJS.ProcessEnv): LevelWithSilent {
  const wanted = (env.RMX_LOG_LEVEL ?? configured ?? "info").toLowerCase();
  const known: LevelWithSilent[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
  return (known as string[]).includes(wanted) ? (wanted as LevelWithSilent) : "info";
}
