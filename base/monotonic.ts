/**
 * Milliseconds on the monotonic clock, for every duration rmxd measures (the probe path, the gateway,
 * the respawn path, the hardware sampler). `performance.now()` reads the same clock (uv_hrtime) but
 * costs twice: the global's first read loads perf_hooks' ten internal modules (~0.5 MiB of RSS for
 * good), and each call checks its receiver through a wrapper that allocates (~88 bytes on Node 20 and 24
 * until optimised; at 10 probes a second it never is). `process.uptime()` allocates only its number.
 * The origin differs (process start, not timeOrigin): only differences of these values are meaningful.
 */
export function monotonicMs(): number {
  return process.uptime() * 1000;
}
