/**
 * V8's compilers beyond its interpreter stay off while rmxd is quiet and come on for the rest of its
 * life the first time it is busy (daemon/busy-switch.ts decides): TurboFan, the Sparkplug baseline
 * compiler, and Maglev (on by default from V8 12, Node 22).
 *
 * Why: a quiet supervisor runs a few kilobytes of JavaScript ten times a second (probes, a tick). That
 * is enough for V8 to compile those functions again within a minute, and the first use of a compiler
 * pulls its own machine code (megabytes of the node binary) and working memory into RSS for good, to
 * save microseconds. Measured with 50 probed runtimes, gateway on, 20 s after start (bench/lean.mjs's
 * setup, same runs alternating): Node 20 66-68 → 62-63 MiB with TurboFan off, 58 with Sparkplug off as
 * well (quiet CPU 0.27-0.47 → 0.23-0.27 %); Node 24 92-94 → 78-79 MiB with TurboFan and Maglev off
 * (file-backed pages of the binary 53 → 45 MiB). Sparkplug off as well on Node 24, measured later after
 * the 50 s settle (same setup, alternating runs): 67.7-67.8 → 66.1-66.2 MiB, quiet CPU 0.33-0.47 →
 * 0.27-0.30 % (at 20 s it had read as no change: its code builds up with the quiet minutes). Under
 * gateway load, though, unoptimized code costs ~18 % more CPU per request and ~0.3 ms of added latency,
 * so a busy daemon turns them on.
 *
 * The flags are read at each tier-up decision, so setting them in-process (daemon/v8-tuning.ts, the
 * daemon's first import, before the bundle is compiled) and back later takes effect at once;
 * test/daemon/v8-optimizers.test.ts checks it. This module has no effect of its own until
 * takeOptimizers() is called.
 *
 * RMX_V8_OPTIMIZERS=auto (default) | on (V8's own behaviour from the start) | off (never: the leanest,
 * for machines where memory matters more than the gateway's CPU).
 */
import v8 from "node:v8";
import { OPTIMIZERS_OFF_AT_START } from "../packaging/node-options.js";

export type OptimizersMode = "auto" | "on" | "off";
const MODES: readonly OptimizersMode[] = ["auto", "on", "off"];

export interface OptimizersSetting {
  mode: OptimizersMode;
  /** Set when RMX_V8_OPTIMIZERS held something else: the text to log (it falls back to auto). */
  problem?: string;
}

export function optimizersSetting(env: NodeJS.ProcessEnv = process.env): OptimizersSetting {
  const raw = env.RMX_V8_OPTIMIZERS;
  if (raw === undefined || raw === "") return { mode: "auto" };
  const wanted = raw.trim().toLowerCase();
  if ((MODES as readonly string[]).includes(wanted)) return { mode: wanted as OptimizersMode };
  return {
    mode: "auto",
    problem: `RMX_V8_OPTIMIZERS=${JSON.stringify(raw)} is not one of ${MODES.join(", ")}: using auto`,
  };
}

/** The flags that turn those compilers off on the V8 of `v8Version` (Maglev is off by default before 12). */
export function optimizerOffFlags(v8Version: string = process.versions.v8): readonly string[] {
  return Number.parseInt(v8Version, 10) >= 12
    ? OPTIMIZERS_OFF_AT_START
    : OPTIMIZERS_OFF_AT_START.filter((flag) => flag !== "--no-maglev");
}

/** The same flags turned back on: V8's defaults again. */
export function optimizerOnFlags(v8Version: string = process.versions.v8): readonly string[] {
  return optimizerOffFlags(v8Version).map((flag) => flag.replace("--no-", "--"));
}

export interface Optimizers {
  readonly setting: OptimizersSetting;
  /** Whether the optimizing compilers are on now. */
  on(): boolean;
  /** Turns them on (once; later calls do nothing). Returns whether this call did it. */
  enable(): boolean;
}

export function takeOptimizers(env: NodeJS.ProcessEnv = process.env): Optimizers {
  const setting = optimizersSetting(env);
  let on = setting.mode === "on";
  // The launchers we write start rmxd with them off (packaging/node-options.ts): "on" undoes that.
  for (const flag of on ? optimizerOnFlags() : optimizerOffFlags()) v8.setFlagsFromString(flag);
  return {
    setting,
    on: () => on,
    enable() {
      if (on) return false;
      for (const flag of optimizerOnFlags()) v8.setFlagsFromString(flag);
      on = true;
      return true;
    },
  };
}
