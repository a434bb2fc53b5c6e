/**
 * A stand-in for one of vLLM's GPU worker processes (one per tensor-parallel rank). It holds nothing but
 * its life: it exits on SIGTERM and when the server that started it goes (its IPC channel closes), as
 * vLLM's workers do. VLLM_STUB_WORKER_STUBBORN=1 makes it ignore both: the worst-behaved worker, which only
 * rmxd's process-group kill and sweep can end (the no-escape tests).
 */
const stubborn = process.env.VLLM_STUB_WORKER_STUBBORN === "1";
if (stubborn) {
  process.on("SIGTERM", () => {});
  process.on("disconnect", () => {});
} else {
  process.on("SIGTERM", () => process.exit(0));
  process.on("disconnect", () => process.exit(0));
}
process.stderr.write(
  `(VllmWorker rank=${process.env.VLLM_STUB_RANK ?? "0"} pid=${process.pid}) worker ready\n`,
);
process.send?.({ ready: true });
setInterval(() => {}, 1 << 30);
