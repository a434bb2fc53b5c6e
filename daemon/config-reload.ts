/**
 * A reloaded configuration applied to a running daemon (SIGHUP or `config.reload`): the model catalog
 * rebuilt first when models changed (so runtimes resolve against the new one), removed runtimes disposed,
 * changed ones restarted on their new spec (running stays running), added ones created. The file was
 * validated before this runs: an invalid file never reaches it and the running configuration stays.
 */
import type { Logger } from "pino";
import type { DaemonConfig, RuntimeSpec } from "../base/spec.js";
import { diffRuntimes } from "../config/diff.js";
import type { ReloadResult } from "../ipc/protocol/runtime.js";
import type { EventBus } from "./events.js";
import type { ModelCatalog } from "./models/catalog.js";
import type { StateStore } from "./persist/state-store.js";
import type { PersistedState } from "./persisted.js";
import type { RuntimeSupervisor } from "./supervise/runtime.js";

export interface ConfigReloadHost {
  config: DaemonConfig;
  models: ModelCatalog;
  readonly runtimes: Map<string, RuntimeSupervisor>;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly store: StateStore<PersistedState>;
  createCatalog(config: DaemonConfig): ModelCatalog;
  addRuntime(spec: RuntimeSpec): RuntimeSupervisor;
  /** A removed runtime's log problem goes with it. */
  clearLogProblem(id: string): void;
  /** Services that follow the configuration (telemetry cadence, the matrix, policy). */
  onApplied(next: DaemonConfig): void;
}

async function swapCatalog(host: ConfigReloadHost, next: DaemonConfig): Promise<void> {
  const before = new Set(host.models.list().map((m) => m.id));
  const catalog = host.createCatalog(next);
  await catalog.start();
  host.models.stop();
  host.models = catalog;
  const after = new Set(catalog.list().map((m) => m.id));
  const added = [...after].filter((id) => !before.has(id));
  const removed = [...before].filter((id) => !after.has(id));
  if (added.length + removed.length > 0) host.bus.publish("models.changed", { added, removed, changed: [] });
}

export async function applyConfig(host: ConfigReloadHost, next: DaemonConfig): Promise<ReloadResult> {
  const diff = diffRuntimes(host.config.runtimes, next.runtimes);
  const modelsChanged =
    JSON.stringify([host.config.models, host.config.model_dirs]) !==
    JSON.stringify([next.models, next.model_dirs]);
  host.config = next;
  if (modelsChanged) await swapCatalog(host, next);
  for (const id of diff.removed) {
    const rt = host.runtimes.get(id);
    host.runtimes.delete(id);
    await rt?.dispose();
    host.clearLogProblem(id);
    await host.store.update((draft) => {
      delete draft.runtimes[id];
    });
  }
  for (const spec of diff.changed) {
    const old = host.runtimes.get(spec.id);
    const wasRunning = old?.desired === "running";
    if (old) {
      await old.shutdown();
      host.runtimes.delete(spec.id);
    }
    const rt = host.addRuntime(spec);
    if (wasRunning && rt.desired !== "running") rt.start();
  }
  for (const spec of diff.added) host.addRuntime(spec);
  host.onApplied(next);
  const result: ReloadResult = {
    source: next.source,
    added: diff.added.map((s) => s.id),
    removed: diff.removed,
    changed: diff.changed.map((s) => s.id),
    unchanged: diff.unchanged,
  };
  host.bus.publish("config.reloaded", result);
  host.logger.info(result, "configuration reloaded");
  return result;
}
