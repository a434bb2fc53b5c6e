/**
 * Durations and sizes as written in rmx.yaml. A bare number is milliseconds (durations) or bytes (sizes);
 * strings carry one unit. Sizes are 1024-based: `1KB` = 1024 bytes (`KiB` is accepted as a synonym).
 */

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const SIZE_UNITS_BYTES = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
} as const;

/** `250ms`, `5s`, `1.5m`, `2h`, `1d`. */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
/** `512KB`, `10MB`, `8GB`, `1.5GiB`, `100B`; units are case-insensitive. */
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s?([kKmMgGtT][iI]?[bB]|[bB])$/;

/** Milliseconds for a duration string or number; `undefined` when it is not one. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const unit = match[2] as keyof typeof DURATION_UNITS_MS;
  const ms = Math.round(Number(match[1]) * DURATION_UNITS_MS[unit]);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Bytes for a size string or number; `undefined` when it is not one. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  const match = SIZE_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase() as keyof typeof SIZE_UNITS_BYTES;
  const bytes = Math.round(Number(match[1]) * SIZE_UNITS_BYTES[unit]);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The shortest exact spelling: 90000 → `90s`, 1500 → `1500ms`, 0 → `0ms`. */
export function formatDuration(ms: number): string {
  if (ms > 0) {
    for (const unit of ["d", "h", "m", "s"] as const) {
      if (ms % DURATION_UNITS_MS[unit] === 0) return `${ms / DURATION_UNITS_MS[unit]}${unit}`;
    }
  }
  return `${ms}ms`;
}

/** The largest exact 1024-based unit: 10485760 → `10MB`, 1500 → `1500B`. */
export function formatSize(bytes: number): string {
  if (bytes > 0) {
    for (const [unit, factor] of [
      ["TB", SIZE_UNITS_BYTES.tb],
      ["GB", SIZE_UNITS_BYTES.gb],
      ["MB", SIZE_UNITS_BYTES.mb],
      ["KB", SIZE_UNITS_BYTES.kb],
    ] as const) {
      if (bytes % factor === 0) return `${bytes / factor}${unit}`;
    }
  }
  return `${bytes}B`;
}
