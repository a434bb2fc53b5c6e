/**
 * Turns V8's optimizing compilers on (daemon/v8-optimizers.ts) the first time the daemon is busy
 * (daemon/busy-detector.ts), then stops watching. One unref'd timer a second while quiet; none in the
 * modes that never switch (RMX_V8_OPTIMIZERS=on or off).
 */
import type { Logger } from "pino";
import { BUSY_RULE, BusyDetector, type BusyRule } from "./busy-detector.js";
import type { Optimizers } from "./v8-optimizers.js";

export interface BusySwitchHost {
  optimizers: Optimizers;
  logger: Pick<Logger, "info" | "warn">;
  /** Wall clock, ms (injected for tests). */
  now?: () => number;
  /** This process's CPU time so far, µs. */
  cpuMicros?: () => number;
}

const processCpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Starts watching; returns the stop. */
export function startBusySwitch(host: BusySwitchHost, rule: BusyRule = BUSY_RULE): () => void {
  const { optimizers, logger } = host;
  const { setting } = optimizers;
  if (setting.problem !== undefined) logger.warn({ env: "RMX_V8_OPTIMIZERS" }, setting.problem);
  if (setting.mode !== "auto" || optimizers.on()) return () => {};
  const now = host.now ?? Date.now;
  const cpu = host.cpuMicros ?? processCpuMicros;
  const detector = new BusyDetector(rule, now(), cpu());
  const timer = setInterval(() => {
    const busy = detector.observe(now(), cpu());
    if (busy === undefined) return;
    clearInterval(timer);
    if (optimizers.enable())
      logger.info(
        { cpu_percent: Math.round(busy.fraction * 1000) / 10, interval_ms: busy.intervalMs },
        "busy: V8's JIT compilers on (RMX_V8_OPTIMIZERS=auto)",
      );
  }, rule.sampleMs);
  timer.unref();
  return () => clearInterval(timer);
}
