/**
 * Node options every launcher of rmxd that we write passes on the command line: the service files
 * (systemd, launchd), `npm start` and the benchmarks (a bare `rmxd` runs without them, only using more
 * memory). Only options
 * that take effect before the heap and V8's platform exist belong here; the V8 flags that can be set
 * in-process are in daemon/v8-tuning.ts, so a bare `node rmxd.cjs` still gets those.
 *
 * `--v8-pool-size=1`: V8's background pool (concurrent marking and sweeping, parallel scavenges,
 * off-thread compilation) has 4 threads by default, each with its own stack and glibc malloc arena. A
 * supervisor's ~15 MiB heap keeps one busy at most. Measured with 50 probed runtimes and the gateway on
 * (bench/lean.mjs, quiet period, alternating runs): RSS on Node 20 about 5 MiB lower (68-69 → 63-64 MiB),
 * on Node 24 about 1 MiB; CPU and the gateway's latency unchanged within the runs' noise.
 */
/**
 * V8's optimizing compilers off from the first instruction (daemon/v8-optimizers.ts turns them on when
 * the daemon is busy, or at once with RMX_V8_OPTIMIZERS=on). The daemon sets the same flags in-process,
 * but on Node 24 that is too late for the binary's pages: with 50 probed runtimes and the gateway on,
 * 1.3 MiB of Maglev's and 0.3 MiB of TurboFan's machine code was resident after the 50 s settle when the
 * flags came in-process only, none with them here (file-backed RSS 45.0 → 43.0 MiB, alternating runs
 * in bench/lean-results.md). V8 11 (Node 20) knows `--no-maglev` too (Maglev is off there by default).
 */
export const OPTIMIZERS_OFF_AT_START = ["--no-turbofan", "--no-maglev", "--no-sparkplug"] as const;

/**
 * `--expose-gc`: the one collection after start-up (daemon/heap-settle.ts) calls `gc`, which exists only
 * when V8 is told so before the heap is set up. Nothing else calls it.
 */
export const EXPOSE_GC = "--expose-gc";

export const DAEMON_NODE_OPTIONS = ["--v8-pool-size=1", ...OPTIMIZERS_OFF_AT_START, EXPOSE_GC] as const;

/**
 * glibc's malloc tuned for rmxd, in the environment of every launcher we write (the systemd units,
 * `npm start`, the benchmarks). V8 compiles into zones of ≤ 32 KiB segments taken from malloc; freed
 * among longer-lived blocks they stay in glibc's heap, which returns only its top. Segments of 32 KiB
 * and more mapped on their own go back to the system when freed. Measured with 50 probed runtimes and
 * the gateway on: RSS 58 → 54 MiB on Node 20 and 73 → 69 MiB on Node 24 (the heap mapping 7.4 → 2.7
 * MiB); 48 KiB keeps 1 MiB of it, 64 KiB none (the segments are 32 KiB plus a header). The allocations
 * that size are compile zones and socket reads, not the probe path's per-request objects.
 * Other C libraries (musl, macOS, Windows) ignore the variable. rmxd removes it from its own environment
 * at start when it holds exactly this value, so backends keep the allocator settings of the user's
 * environment (a runtime's `env:` can still set them).
 */
export const DAEMON_GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=32768";
export const DAEMON_ENVIRONMENT: Readonly<Record<string, string>> = Object.freeze({
  GLIBC_TUNABLES: DAEMON_GLIBC_TUNABLES,
});
