/**
 * Default limits of the socket server's wire, in one place that both the server (ipc/server) and the
 * config defaults (config/defaults.ts: the `ipc.*` keys) read, so a bare server and a configured one agree.
 */
export const DEFAULT_LIMITS = {
  maxOutboundBytes: 8 * 1024 * 1024,
  maxTotalOutboundBytes: 64 * 1024 * 1024,
  maxBatch: 100,
  maxJsonDepth: 64,
  partialLineTimeoutMs: 10_000,
  idleTimeoutMs: 10 * 60_000,
};
