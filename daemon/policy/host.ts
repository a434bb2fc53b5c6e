/** What the policy service needs of the daemon; daemon/daemon.ts wires it, tests can build one. */
import type { Logger } from "pino";
import type { HardwareTarget } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import type { DaemonConfig, RuntimeSpec } from "../../base/spec.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import type { ModelEntry } from "../../ipc/protocol/models.js";
import type { Lease, PinRecord } from "../../ipc/protocol/policy.js";
import type { EventBus } from "../events.js";
import type { SandboxDetection } from "../sandbox/detect.js";
import type { RuntimeDeps, RuntimeSupervisor } from "../supervise/runtime.js";

export interface PolicyHost {
  readonly clock: Clock;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  /** The configuration now (a reload replaces it). */
  config(): DaemonConfig;
  /** The model catalog now (a reload may replace it). */
  models(): { get(idOrPath: string): ModelEntry | undefined };
  sandboxes(): readonly SandboxDetection[];
  inventory(): HardwareInventory | undefined;
  matrixCells(): MatrixCell[];
  /** Throws RmxError RUNTIME_NOT_FOUND. */
  getRuntime(id: string): RuntimeSupervisor;
  resolveModelPath(model: string | undefined): string | undefined;
  /** Throws RmxError HARDWARE_UNKNOWN. */
  resolveHardware(id: string): HardwareTarget;
  /** Pins and leases as the state file holds them (leases unchecked: the file may be hand-edited). */
  stored(): { pins: PinRecord[]; leases: unknown[] };
  savePins(all: PinRecord[]): Promise<void>;
  saveLeases(leases: Lease[]): Promise<void>;
  /**
   * A routed request changed what `runtime.status` shows without an event; the request feeds the
   * request metrics (daemon/http/metrics.ts RequestRecorder's shape).
   */
  onRouted(request?: {
    model: string;
    cell: string;
    code: string;
    seconds: number;
    ttft_seconds?: number;
  }): void;
  /** The deps every supervisor of a runtime is built with (a reload's candidate is built with them). */
  runtimeDeps(spec: RuntimeSpec): RuntimeDeps;
  /** Makes `rt` the runtime of its id (a reload's candidate taking over from the old supervisor). */
  adopt(rt: RuntimeSupervisor): void;
}
