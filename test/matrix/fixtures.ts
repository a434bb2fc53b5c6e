/** Builders for the pure matrix tests: specs, runtimes, inventories, samples, GGUF facts. */

import type { GgufInfo } from "../../adapters/shared/gguf/reader.js";
import type { RuntimeSpec, SandboxKind } from "../../base/spec.js";
import type { MatrixRuntime, RuntimeObservation } from "../../daemon/matrix/compose.js";
import type { SandboxDetection } from "../../daemon/sandbox/detect.js";
import type { HardwareInventory, HardwareSample } from "../../ipc/protocol/hardware.js";
import type { RuntimeState, RuntimeView } from "../../ipc/protocol/runtime.js";
import { runtime } from "../core/fixtures.js";
import { defaultRuntimeSpec } from "../support/runtime-spec.js";

export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;

/** The built-in defaults' spec (test/support/runtime-spec.ts), under the name the matrix tests use. */
export const spec = (id: string, over: Partial<RuntimeSpec> = {}): RuntimeSpec =>
  defaultRuntimeSpec(id, over);

export function matrixRuntime(
  id: string,
  state: RuntimeState,
  opts: {
    model?: string;
    hardware?: string;
    sandbox?: SandboxKind;
    spec?: Partial<RuntimeSpec>;
    view?: Partial<Omit<RuntimeView, "id" | "state" | "status">>;
    observation?: RuntimeObservation;
  } = {},
): MatrixRuntime {
  const hardware = opts.hardware ?? "cpu";
  const sandbox = opts.sandbox ?? "none";
  const model = opts.model ?? "m";
  const s = spec(id, { model, hardware, sandbox: { kind: sandbox }, ...opts.spec });
  const view = runtime(id, state, { hardware, sandbox, adapter: s.adapter, ...opts.view });
  const out: MatrixRuntime = { view, spec: s, model };
  if (opts.observation !== undefined) out.observation = opts.observation;
  return out;
}

export function inventory(gpus: { vram?: number; status?: "ok" | "unknown" }[] = []): HardwareInventory {
  return {
    generated: "2025-09-29T12:00:00.000Z",
    cpu: { id: "cpu", model: "Test CPU", cores: 8, arch: "x64" },
    memory: { total_bytes: 32 * GIB },
    os: { platform: "linux", hostname: "box" },
    gpus: gpus.map((g, i) => ({
      id: `gpu:${i}`,
      index: i,
      vendor: "nvidia",
      model: `GPU ${i}`,
      ...(g.vram !== undefined ? { vram_bytes: g.vram } : {}),
      source: "nvidia-smi",
      status: g.status ?? "ok",
    })),
    notes: [],
  };
}

export function sample(over: Partial<HardwareSample> = {}): HardwareSample {
  return {
    at: "2025-09-29T12:00:05.000Z",
    memory: { total_bytes: 32 * GIB, available_bytes: 16 * GIB, used_bytes: 16 * GIB },
    cpu: { load_percent: 10, load_avg: [0.1, 0.2, 0.3] },
    gpus: [],
    processes: {},
    tick_ms: 3,
    ...over,
  };
}

export const SANDBOXES: SandboxDetection[] = [
  { kind: "none", available: true },
  { kind: "bwrap", available: true, version: "0.9.0" },
  {
    kind: "systemd-run",
    available: false,
    reason: "PID 1 is not systemd (/run/systemd/system does not exist)",
  },
];

/** A 7B-like model: 4 GiB of weights, 32 layers, 4096 wide, 32 heads (8 KV). */
export function gguf(over: Partial<GgufInfo> = {}): GgufInfo {
  return {
    path: "/models/m.gguf",
    file_size: 4 * GIB,
    version: 3,
    architecture: "llama",
    context_length: 8192,
    embedding_length: 4096,
    block_count: 32,
    head_count: 32,
    head_count_kv: 8,
    tensor_count: 291,
    parameter_count: 7e9,
    metadata_keys: 24,
    ...over,
  };
}
