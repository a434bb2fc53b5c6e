/**
 * Preloaded into rmxd by the socket-abuse test only (NODE_OPTIONS="--expose-gc --import=<this file>"):
 * SIGUSR2 runs a full garbage collection and prints a marker line. V8 collects an idle heap when its own
 * heuristics say so, which can take minutes; collecting on request makes "memory returns after the
 * abuse" measure what the daemon still holds, not when V8 chose to look.
 */
let collections = 0;
process.on("SIGUSR2", () => {
  globalThis.gc?.();
  globalThis.gc?.();
  collections += 1;
  // What the daemon still holds after the collection: the JS heap, and the memory of Buffers and other
  // native objects it references (RSS also counts pages the allocator has not handed back yet).
  const m = process.memoryUsage();
  process.stderr.write(`rmx-test-gc ${collections} held=${m.heapUsed + m.external + m.arrayBuffers}\n`);
});
