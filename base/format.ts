/** Human-readable figures shared by the daemon's messages and the CLI's text. */

const UNITS: [number, string][] = [
  [1024 ** 3, "GiB"],
  [1024 ** 2, "MiB"],
  [1024, "KiB"],
];

/** 5476083302 → "5.1 GiB"; small sizes in MiB / KiB / B so tiny test models still read sensibly. */
export function formatBytes(bytes: number): string {
  for (const [size, unit] of UNITS)
    if (Math.abs(bytes) >= size) return `${(bytes / size).toFixed(1)} ${unit}`;
  return `${Math.round(bytes)} B`;
}

/** A configured limit in messages: "500 ms", "1.5 s", "120 s" (whole seconds without a decimal). */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
