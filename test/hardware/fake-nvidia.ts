import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";

/** Real nvidia-smi CSV for two GPUs, as `--format=csv,noheader,nounits` prints it. */
export const INVENTORY_CSV = [
  "0, NVIDIA GeForce RTX 3090, 24576, 00000000:01:00.0, 550.54.14",
  "1, NVIDIA RTX A2000 12GB, 12282, 00000000:02:00.0, 550.54.14",
].join("\n");

export const SAMPLE_CSV = ["0, 37, 1024, 24576, 61", "1, [N/A], 0, 12282, [Not Supported]"].join("\n");

export type FakeBehaviour = "ok" | "slow" | "broken" | "garbage" | "no-devices";

/**
 * Writes an executable `nvidia-smi` into `dir`. "slow" sleeps far past any timeout (exec, so killing the
 * script kills the sleep), "broken" exits 9 like a driver mismatch, "garbage" prints nonsense and exits 0.
 * Each run appends its arguments to `calls.log` so tests can see how it was invoked.
 */
export async function writeFakeNvidiaSmi(dir: string, behaviour: FakeBehaviour): Promise<string> {
  const bin = path.join(dir, "nvidia-smi");
  const log = path.join(dir, "calls.log");
  const body: Record<FakeBehaviour, string> = {
    ok: [
      'case "$1" in',
      `  *utilization.gpu*) printf '%s\\n' '${SAMPLE_CSV.split("\n").join("' '")}' ;;`,
      `  *) printf '%s\\n' '${INVENTORY_CSV.split("\n").join("' '")}' ;;`,
      "esac",
    ].join("\n"),
    slow: "exec sleep 30",
    broken: [
      'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver." >&2',
      "exit 9",
    ].join("\n"),
    garbage: "echo 'Segmentation fault? no: <html>not csv</html>'",
    "no-devices": "echo 'No devices were found'\nexit 6",
  };
  await writeFile(bin, `#!/bin/sh\necho "$@" >> '${log}'\n${body[behaviour]}\n`);
  await chmod(bin, 0o755);
  return bin;
}
