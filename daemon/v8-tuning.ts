/**
 * V8 settings for a small, long-lived daemon, applied in-process so every way rmxd starts gets them
 * (systemd and launchd run `node rmxd.js`, a shebang's flags would not apply; the CLI spawns it with
 * process.execPath). Imported first by daemon/main.ts, before anything allocates much.
 *
 * The young generation is fixed at its initial size: V8 otherwise doubles the semi-spaces on every
 * scavenge that finds them busy, up to 16 MiB each on Node 20 and 64 MiB on Node 24, and then keeps
 * those pages resident. The daemon's allocation is bursty and short-lived (a probe, an RPC, a request
 * forwarded), so a 1-2 MiB nursery costs a few more (cheap) scavenges and saves tens of MiB of RSS:
 * measured with 50 probed runtimes, new space 32 → 2 MiB on Node 20 and 32-128 → 1 MiB on Node 24.
 * `--max-semi-space-size` is read only when the heap is created, so it cannot be set from here;
 * the growth factor is read at each resize.
 *
 * With a small nursery more short-lived objects (a gateway request's) reach the old generation, whose
 * next collection V8 schedules at up to 2-4× the live size: under 1,000 gateway requests with 50
 * runtimes RSS swung between 92 and 98 MiB. A 25 % growing step collects that garbage sooner: 78-82 MiB
 * (V8's default in the same run: 105-108). The heap is ~20 MiB, so each extra mark-compact is short
 * and mostly concurrent. Both flags are read when V8 sizes things, not at start-up only.
 * RMX_V8_GROWTH=default keeps V8's own behaviour (for comparison, or should a workload need it).
 *
 * Measured and left out (50 probed runtimes, gateway on, Node 20; RSS moved within the ±2 MiB noise of
 * back-to-back runs): --single-threaded-gc, --max-lazy, --bytecode-old-age=1|2, --optimize-for-size (CPU
 * ×2), --no-concurrent-marking. --stress-flush-code cuts live old space by ~3.5 MiB (bytecode and
 * feedback of start-up-only code) but V8 keeps the pages committed, so RSS does not fall, and it is a
 * stress flag. A forced full GC after start-up (41 ms) frees ~3 MiB of heap and no RSS, for the same reason.
 */
import v8 from "node:v8";

export const DAEMON_V8_FLAGS = ["--semi-space-growth-factor=1", "--heap-growing-percent=25"] as const;

export function applyDaemonV8Flags(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  if (env.RMX_V8_GROWTH === "default") return [];
  for (const flag of DAEMON_V8_FLAGS) v8.setFlagsFromString(flag);
  return DAEMON_V8_FLAGS;
}

applyDaemonV8Flags();
