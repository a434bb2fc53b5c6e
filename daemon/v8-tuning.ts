/**
 * V8 settings for a small, long-lived daemon, applied in-process so every way rmxd starts gets them
 * (systemd and launchd run `node rmxd.cjs`, a shebang's flags would not apply; the CLI spawns it with
 * process.execPath). Imported first by daemon/main.ts, before anything allocates much.
 *
 * The young generation is fixed at its initial size: V8 otherwise doubles the semi-spaces on every
 * scavenge that finds them busy, up to 16 MiB each on Node 20 and 64 MiB on Node 24, and then keeps
 * those pages resident. The daemon's allocation is bursty and short-lived (a probe, an RPC, a request
 * forwarded), so a 1-2 MiB nursery costs a few more (cheap) scavenges and saves tens of MiB of RSS:
 * measured with 50 probed runtimes, new space 32 → 2 MiB on Node 20 and 32-128 → 1 MiB on Node 24.
 * (V8 13, Node 24, still resizes it by survival rate under heavy churn: 2-8 MiB in the test's, not 32.)
 * `--max-semi-space-size` is read only when the heap is created, so it cannot be set from here;
 * the growth factor is read at each resize.
 *
 * With a small nursery more short-lived objects (a gateway request's) reach the old generation, whose
 * next collection V8 schedules at up to 2-4× the live size: under 1,000 gateway requests with 50
 * runtimes RSS swung between 92 and 98 MiB. A 25 % growing step collects that garbage sooner: 78-82 MiB
 * (V8's default in the same run: 105-108). The heap is ~20 MiB, so each extra mark-compact is short
 * and mostly concurrent. Both flags are read when V8 sizes things, not at start-up only.
 *
 * After start-up V8's memory reducer waits until allocation is low, then runs up to three
 * mark-compacts in a row to shrink the heap. On Node 20 (V8 11) that lands in the daemon's first quiet
 * half-minute, and with 50 probed runtimes the first of them collected the start-up garbage (16.3 → 13.0
 * MiB) while the next two found ~0.2 MiB each and cost as much: with the two GC-related phases that is
 * 40-60 ms of the 140 ms the daemon spent in that 30 s (0.40-0.53 % of a core; 0.28-0.37 % in the runs
 * without them). One reducing GC keeps the shrink and drops the repeats: `--memory-reducer-single-gc`
 * (V8 11-12) or `--memory-reducer-gc-count=1` (V8 13+, default 2), both read at each decision so they
 * apply from here; `--no-memory-reducer` would also work but is read only at heap set-up. Node 24's
 * reducer rarely runs at all (it reads idle as high allocation, a V8 13 regression: only its 100 s
 * watchdog starts it), so there the flag only trims those watchdog runs.
 *
 * RMX_V8_GROWTH=default keeps V8's own behaviour (for comparison, or should a workload need it).
 *
 * Measured and left out (50 probed runtimes, gateway on, Node 20; RSS moved within the ±2 MiB noise of
 * back-to-back runs): --single-threaded-gc, --max-lazy, --bytecode-old-age=1|2, --optimize-for-size (CPU
 * ×2), --no-concurrent-marking. --stress-flush-code cuts live old space by ~3.5 MiB (bytecode and
 * feedback of start-up-only code) but V8 keeps the pages committed, so RSS does not fall, and it is a
 * stress flag. A forced full GC after start-up (41 ms) frees ~3 MiB of heap and no RSS, for the same reason.
 */
import v8 from "node:v8";
import { type Optimizers, takeOptimizers } from "./v8-optimizers.js";

export const DAEMON_V8_FLAGS = ["--semi-space-growth-factor=1", "--heap-growing-percent=25"] as const;

/** The memory reducer's one-GC flag under its name in this V8 (`process.versions.v8`, e.g. "11.3.244.8-node.33"). */
export function memoryReducerFlag(v8Version: string): string {
  const major = Number.parseInt(v8Version, 10);
  return major >= 13 ? "--memory-reducer-gc-count=1" : "--memory-reducer-single-gc";
}

/** Every flag the daemon sets on the V8 of `v8Version`. */
export function daemonV8Flags(v8Version: string = process.versions.v8): readonly string[] {
  return [...DAEMON_V8_FLAGS, memoryReducerFlag(v8Version)];
}

export function applyDaemonV8Flags(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  if (env.RMX_V8_GROWTH === "default") return [];
  const flags = daemonV8Flags();
  for (const flag of flags) v8.setFlagsFromString(flag);
  return flags;
}

applyDaemonV8Flags();

/** This process's optimizing compilers: off from here unless RMX_V8_OPTIMIZERS=on (daemon/v8-optimizers.ts). */
export const optimizers: Optimizers = takeOptimizers();
