/**
 * What a dashboard cell serves and its rate in that capability's unit: text generation in tokens/s,
 * transcription in × real time (audio seconds per second), infer in inferences/s — the grouping of
 * `rmx matrix`. The cell's first capability picks the unit; a cell without capabilities shows tokens/s.
 */
import type { MatrixCell } from "../../../ipc/protocol/matrix.js";

export type RateUnit = "tok/s" | "× real time" | "inferences/s";

export interface CellRate {
  capabilities: string[];
  /** The unit of `rate` (present even when no rate is known yet, so the page can say "—"). */
  rate_unit: RateUnit;
  rate?: number;
}

export function cellRate(cell: MatrixCell): CellRate {
  const capabilities = cell.capabilities ?? [];
  const t = cell.throughput;
  const first = capabilities[0];
  const [unit, rate]: [RateUnit, number | undefined] =
    first === "transcription"
      ? ["× real time", t.audio_seconds_per_second]
      : first === "infer"
        ? ["inferences/s", t.inferences_per_second]
        : ["tok/s", t.generated_tokens_per_second];
  return { capabilities: [...capabilities], rate_unit: unit, ...(rate !== undefined ? { rate } : {}) };
}
