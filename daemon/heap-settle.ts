/**
 * One full collection once start-up has settled. The start-up's garbage (spawning every runtime, the
 * first probes, the first samples) lands in old-space pages that stay partly full; V8's own memory
 * reducer runs once (daemon/v8-tuning.ts) and, when no collection came before it, has kept those pages
 * committed: with 50 probed runtimes, 11.5 MiB of old space held 7.3 MiB of objects for as long as we
 * watched (10 minutes). A collection a few seconds after start compacts them while there is little to
 * move: alternating runs in bench/lean-results.md (twelfth stop).
 *
 * Flushing start-up-only bytecode first (`--bytecode-old-age=1` for this collection and one more 7 s
 * later) did not pay: the functions are compiled again as they run and the pages stay committed
 * (anonymous RSS 13.2-13.9 MiB without, 13.7-15.3 with; thirteenth stop).
 *
 * It needs `gc`, which the launchers' `--expose-gc` gives (packaging/node-options.ts); a bare
 * `node rmxd.cjs` skips it and only keeps more memory.
 */
export const HEAP_SETTLE_MS = 8_000;

type Collect = () => void;

/** Schedules the collection (the timer does not hold the process open) and returns its cancel; without `gc`, nothing. */
export function settleHeapAfterStart(
  collect: Collect | undefined = (globalThis as { gc?: Collect }).gc,
  delayMs: number = HEAP_SETTLE_MS,
): (() => void) | undefined {
  if (typeof collect !== "function") return undefined;
  const timer = setTimeout(() => collect(), delayMs);
  timer.unref();
  return () => clearTimeout(timer);
}
