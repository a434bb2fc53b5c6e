/** What the policy service needs of the daemon; daemon/daemon.ts wires it, tests can build one. */
import type { Logger } from "pino";
import type { HardwareTarget } from "../../adapters/types.js";
import type { Clock } from "../../base/clock.js";
import type { EventBus } from "../events.js";
import type { HardwareInventory } from "../hardware/types.js";
import type { ModelEntry } from "../models/catalog.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import type { DaemonConfig, MatrixCell } from "../types.js";
import type { SandboxAvailability } from "./candidates.js";
import type { Lease } from "./lease.js";
import type { PinRecord } from "./pins.js";

export interface PolicyHost {
  readonly clock: Clock;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly runtimes: ReadonlyMap<string, RuntimeSupervisor>;
  /** The configuration now (a reload replaces it). */
  config(): DaemonConfig;
  /** The model catalog now (a reload may replace it). */
  models(): { get(idOrPath: string): ModelEntry | undefined };
  sandboxes(): readonly SandboxAvailability[];
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
  onRouted(request?: { model: string; cell: string; code: string; seconds: number }): void;
}
