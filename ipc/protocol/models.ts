/** Wire shapes of `models.list` and `models.inspect`: GGUF facts, the memory estimate and the fit per hardware id. */

import type { MemoryEstimate } from "../../adapters/shared/gguf/estimate.js";
import type { GgufInfo } from "../../adapters/shared/gguf/reader.js";
import type { FitVerdict } from "../../base/fit.js";
import type { HardwareId } from "../../base/spec.js";

export type { GgufInfo, MemoryEstimate };

export interface ModelEntry {
  id: string;
  path: string;
  source: "config" | "dir";
  size_bytes?: number;
  /** RFC 3339 modification time. */
  mtime?: string;
  gguf?: GgufInfo;
  /** Why the file cannot be used (missing, not GGUF, truncated). */
  error?: string;
}

export interface ModelListEntry extends ModelEntry {
  /** At the largest context a runtime of this model is configured with, else the default context. */
  estimate?: MemoryEstimate;
  fit: Record<HardwareId, FitVerdict>;
  /** Runtimes configured with this model. */
  runtimes: string[];
}

export interface ModelListResult {
  generated: string;
  models: ModelListEntry[];
  /** Catalog notes: missing directories, duplicate ids. */
  notes: string[];
}

export interface ModelInspectResult {
  info: GgufInfo;
  estimate: MemoryEstimate;
  fit: Record<HardwareId, FitVerdict>;
}

export interface ModelCatalogChange {
  added: string[];
  removed: string[];
  changed: string[];
}
