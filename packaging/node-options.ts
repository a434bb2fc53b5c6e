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
