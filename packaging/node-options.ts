/**
 * Node options every launcher of rmxd that we write passes on the command line: the service files
 * (systemd, launchd), `npm start` and the benchmarks (a bare `rmxd` runs without them, only using more
 * memory). Only options
 * that take effect before the heap and V8's platform exist belong here; the V8 flags that can be set
 * in-process are in daemon/v8-tuning.ts, so a bare `node rmxd.js` still gets those.
 *
 * `--v8-pool-size=1`: V8's background pool (concurrent marking and sweeping, parallel scavenges,
 * off-thread compilation) has 4 threads by default, each with its own stack and glibc malloc arena. A
 * supervisor's ~15 MiB heap keeps one busy at most. Measured with 50 probed runtimes and the gateway on
 * (bench/lean.mjs, quiet period, alternating runs): RSS on Node 20 about 5 MiB lower (68-69 → 63-64 MiB),
 * on Node 24 about 1 MiB; CPU and the gateway's latency unchanged within the runs' noise.
 */
export const DAEMON_NODE_OPTIONS = ["--v8-pool-size=1"] as const;

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
