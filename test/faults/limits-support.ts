/**
 * Shared by the limits-* fault tests: another client's round trip, sampled while an attack runs (the bound
 * the brief asks for is on its maximum), and a timeout that turns "the daemon never answers" into a failure
 * with a figure instead of a hung test.
 */
import type { RmxClient } from "../../ipc/client.js";

/** Round-trip bound another client must meet throughout an attack. */
export const ROUND_TRIP_BOUND_MS = 100;

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The slowest of `samples` sequential `daemon.hello` round trips, in ms (a hung daemon fails after 5 s). */
export async function maxRoundTripMs(client: RmxClient, samples = 5): Promise<number> {
  let max = 0;
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await withTimeout(client.call("daemon.hello", {}), 5_000, "daemon.hello from another client");
    max = Math.max(max, performance.now() - started);
  }
  return Math.round(max * 10) / 10;
}
