/**
 * One full collection once start-up has settled. The start-up's garbage (spawning every runtime, the
 * first probes, the first samples) lands in old-space pages that stay partly full; V8's own memory
 * reducer runs once (daemon/v8-tuning.ts) and, when no collection came before it, has kept those pages
 * committed: with 50 probed runtimes, 11.5 MiB of old space held 7.3 MiB of objects for as long as we
 * watched (10 minutes). A collection a few seconds after start compacts them while there is little to
 * move: alternating runs in bench/lean-results.md (twelfth stop).
 *
 * On V8 13 (Node 24) a plain `gc()` compacts almost nothing and keeps the emptied pages: old space
 * held 7.2 MiB of objects in 9.75 MiB of pages, trusted space 1.65 in 2.0, until the memory reducer's
 * watchdog ran ~115 s after start (the reducer itself rarely starts there, daemon/v8-tuning.ts). So
 * there the collection is `gc`'s memory-reducing flavor ("last-resort": V8 collects with its
 * reduce-memory flag, evacuates the sparse pages and gives the empty ones back), which reaches that
 * state at 8 s: old space 7.1 in 7.2 MiB, trusted 1.5 in 1.6, and it stays (quiet promotion is a few
 * KiB a minute). RSS with 50 probed runtimes and the gateway on, alternating runs: 60.6-60.7 → 57.7 MiB
 * from 10 s to 100 s after start, 58.4 → 57.9 after the watchdog's run; the collection takes ~35 ms,
 * once. On V8 11 (Node 20) the same call moved RSS the other way (50.1-51.8 → 52.4-53.1 MiB), so there
 * it stays the plain one.
 *
 * Flushing start-up-only bytecode first (`--bytecode-old-age=1` for this collection and one more 7 s
 * later) did not pay: the functions are compiled again as they run and the pages stay committed
 * (anonymous RSS 13.2-13.9 MiB without, 13.7-15.3 with; thirteenth stop).
 *
 * It needs `gc`, which the launchers' `--expose-gc` gives (packaging/node-options.ts); a bare
 * `node rmxd.cjs` skips it and only keeps more memory.
 */
export const HEAP_SETTLE_MS = 8_000;

/** `gc`'s options object (Node's `--expose-gc` takes one since V8 9): a synchronous full collection. */
export interface CollectOptions {
  type: "major";
  execution: "sync";
  flavor: "regular" | "last-resort";
}

type Collect = (options?: CollectOptions) => void;

/** V8 13's memory-reducing collection; before it, null: a plain `gc()`. */
export function settleCollection(v8Version: string = process.versions.v8): CollectOptions | null {
  return Number.parseInt(v8Version, 10) >= 13
    ? { type: "major", execution: "sync", flavor: "last-resort" }
    : null;
}

/** Schedules the collection (the timer does not hold the process open) and returns its cancel; without `gc`, nothing. */
export function settleHeapAfterStart(
  collect: Collect | undefined = (globalThis as { gc?: Collect }).gc,
  delayMs: number = HEAP_SETTLE_MS,
  options: CollectOptions | null = settleCollection(),
): (() => void) | undefined {
  if (typeof collect !== "function") return undefined;
  const timer = setTimeout(() => (options === null ? collect() : collect(options)), delayMs);
  timer.unref();
  return () => clearTimeout(timer);
}
