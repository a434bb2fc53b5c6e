/**
 * Parameter counts of runtime models the catalog does not describe (files outside model_dirs), read from
 * their GGUF headers once per file, for ranking cells by model size (`deep` mode).
 */

import { getAdapter } from "../../adapters/registry.js";
import { readGguf } from "../../adapters/shared/gguf/reader.js";
import type { RuntimeSpec } from "../../base/spec.js";
import type { ModelEntry } from "../../ipc/protocol/models.js";

export interface ParameterSource {
  readonly spec: RuntimeSpec;
}

export class ParameterCache {
  private readonly counts = new Map<string, number>();

  /** `models` is asked at each call: a config reload replaces the catalog. */
  constructor(private readonly models: () => { get(idOrPath: string): ModelEntry | undefined }) {}

  count(spec: RuntimeSpec): number | undefined {
    if (spec.model === undefined) return undefined;
    const entry = this.models().get(spec.model);
    if (entry?.gguf !== undefined) return entry.gguf.parameter_count;
    return this.counts.get(entry?.path ?? spec.model);
  }

  /** A quick action already read this file's header: keep what it found. */
  learn(file: string, parameterCount: number): void {
    this.counts.set(file, parameterCount);
  }

  /** Reads the GGUF header of the runtimes' models the catalog does not describe. */
  async warm(runtimes: Iterable<ParameterSource>): Promise<void> {
    for (const rt of [...runtimes]) {
      const model = rt.spec.model;
      if (model === undefined || getAdapter(rt.spec.adapter).modelFormat !== "gguf") continue;
      const entry = this.models().get(model);
      if (entry?.gguf !== undefined) continue;
      const file = entry?.path ?? model;
      if (this.counts.has(file)) continue;
      try {
        this.counts.set(file, (await readGguf(file)).parameter_count);
      } catch {
        // Unreadable: its size stays unknown and `deep` ranks it last.
      }
    }
  }
}
