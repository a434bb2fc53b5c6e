#!/usr/bin/env node
/**
 * rmxd — the runtime-matrix daemon.
 *   rmxd [--config FILE] [--socket PATH] [--state-dir DIR] [--http HOST:PORT|off] [--system] [--pretty] [--log-level LEVEL]
 */
// First: V8 flags that must be set before the heap grows.
import "./v8-tuning.js";
// Second: zod's settings, before any schema is built.
import "../base/zod-jitless.js";
import { isRmxError } from "../base/errors.js";
import { locateConfig } from "../config/locate.js";
import { defaultSocketPath, defaultStateDir } from "../ipc/socket-path.js";
import { parseArgv, RMXD_OPTIONS } from "./argv.js";
import { Daemon } from "./daemon.js";
import { settleHeapAfterStart } from "./heap-settle.js";
import { forgetLauncherEnvironment } from "./launcher-env.js";
import { createLogger, resolveLogLevel } from "./log.js";
import { optimizers } from "./v8-tuning.js";
import { productVersion } from "./version.js";

const USAGE = `Usage: rmxd [options]

Supervises local inference backends (llama.cpp's llama-server first) and serves their state on a local socket.

Options:
  --config FILE       configuration (else RMX_CONFIG, else $XDG_CONFIG_HOME/runtime-matrix/rmx.yaml,
                      else the embedded default: one bundled llama stub runtime)
  --socket PATH       socket path or \\\\.\\pipe\\name (else RMX_SOCKET, else the per-user default)
  --state-dir DIR     budgets, desired states, leases and logs (else RMX_STATE_DIR, else the per-user default)
  --http HOST:PORT    the OpenAI-compatible gateway's address, or off (else RMX_HTTP, else the config's
                      http.listen, default 127.0.0.1:8765; port 0 picks a free port); it also serves
                      /metrics, the dashboard (/, login via \`rmx dashboard\`) and /badge.svg
  --system            system mode: /run/runtime-matrix/rmxd.sock and /var/lib/runtime-matrix
  --pretty            human-readable logs (default when stderr is a terminal)
  --log-level LEVEL   trace|debug|info|warn|error|fatal (else RMX_LOG_LEVEL, else the config's log_level)
  --version, -v       print the version
  --help, -h          this help

Signals: SIGTERM/SIGINT stop every backend and exit; SIGHUP reloads the configuration (only changes are applied).`;

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgv(process.argv.slice(2), RMXD_OPTIONS);
  } catch (error) {
    process.stderr.write(`rmxd: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const version = productVersion();
  if (values.version) {
    process.stdout.write(`rmxd ${version}\n`);
    return 0;
  }
  const env = process.env;
  forgetLauncherEnvironment(env);
  const system = values.system === true;
  const stateDir =
    (values["state-dir"] as string | undefined) ?? env.RMX_STATE_DIR ?? defaultStateDir({ system, env });
  const socketPath =
    (values.socket as string | undefined) ?? env.RMX_SOCKET ?? defaultSocketPath({ system, env, stateDir });
  const pretty = (values.pretty as boolean | undefined) ?? process.stderr.isTTY === true;
  const bootLogger = createLogger({
    level: resolveLogLevel(values["log-level"] as string | undefined, env),
    pretty,
  });

  let daemon: Daemon | undefined;
  try {
    const config = await locateConfig({ ...(values.config ? { flag: values.config as string } : {}), env });
    const httpListen = (values.http as string | undefined) ?? env.RMX_HTTP;
    daemon = new Daemon({
      config,
      socketPath,
      stateDir,
      system,
      logger: bootLogger,
      version,
      optimizers,
      ...(httpListen !== undefined && httpListen !== "" ? { httpListen } : {}),
    });
    installSignalHandlers(daemon);
    await daemon.start();
    settleHeapAfterStart();
    if (!values["log-level"] && !env.RMX_LOG_LEVEL) bootLogger.level = daemon.config.log_level;
    return -1; // keep running
  } catch (error) {
    if (isRmxError(error)) {
      process.stderr.write(`rmxd: ${error.message}\n`);
      bootLogger.error({ code: error.code, data: error.data }, error.message.split("\n")[0] ?? error.message);
    } else {
      bootLogger.fatal({ err: error }, "rmxd failed to start");
      process.stderr.write(`rmxd: ${(error as Error).stack ?? String(error)}\n`);
    }
    await daemon?.shutdown("start-up failed").catch(() => {});
    return isRmxError(error) ? error.exitCode : 1;
  }
}

function installSignalHandlers(daemon: Daemon): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      daemon.logger.warn({ signal }, "second stop signal: exiting now");
      process.exit(130);
    }
    stopping = true;
    void daemon.shutdown(signal).then(
      () => process.exit(0),
      (error) => {
        daemon.logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => {
    daemon.reload().catch((error) => {
      daemon.logger.error(
        { err: isRmxError(error) ? error.message : error },
        "reload failed; keeping the running configuration",
      );
    });
  });
  process.on("unhandledRejection", (reason) => {
    daemon.logger.error({ err: reason }, "unhandled rejection (daemon keeps running)");
  });
  process.on("uncaughtException", (error) => {
    daemon.logger.fatal({ err: error }, "uncaught exception: stopping every backend before exiting");
    void daemon.shutdown("uncaught exception").finally(() => process.exit(1));
  });
}

// No top-level await: the bundle (dist/bin/rmxd.cjs) is CommonJS, which spares rmxd the ES module loader.
void main().then((code) => {
  if (code >= 0) process.exit(code);
});
