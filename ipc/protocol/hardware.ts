/**
 * Hardware axis of the matrix: what the machine has (inventory, once) and how busy it is (samples, each tick).
 * Sizes in bytes, times RFC 3339, snake_case like every other wire shape.
 */

export type GpuVendor = "nvidia" | "amd" | "apple" | "intel" | "unknown";

export interface GpuInfo {
  /** `gpu:N`, N = position in the inventory (NVIDIA first, then AMD, Intel, Apple). */
  id: string;
  /** Vendor-local device index: what CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES take. */
  index: number;
  vendor: GpuVendor;
  model: string;
  vram_bytes?: number;
  bus_id?: string;
  driver?: string;
  source: "nvidia-smi" | "sysfs" | "systeminformation";
  status: "ok" | "unknown";
  reason?: string;
}

export interface HardwareInventory {
  generated: string;
  cpu: { id: "cpu"; model: string; cores: number; physical_cores?: number; arch: string };
  memory: { total_bytes: number };
  os: { platform: string; distro?: string; release?: string; kernel?: string; hostname: string };
  gpus: GpuInfo[];
  notes: string[];
}

export interface GpuSample {
  id: string;
  util_percent?: number;
  vram_used_bytes?: number;
  vram_total_bytes?: number;
  temperature_c?: number;
  status: "ok" | "unknown";
  reason?: string;
}

export interface ProcessSample {
  pid: number;
  /** Percent of one core since the previous sample (may exceed 100 on several cores). */
  cpu_percent: number;
  rss_bytes: number;
}

export interface HardwareSample {
  at: string;
  memory: { total_bytes: number; available_bytes: number; used_bytes: number };
  /** load_percent: share of all cores busy since the previous tick; load_avg: 1/5/15-minute run-queue averages. */
  cpu: { load_percent: number; load_avg: number[] };
  gpus: GpuSample[];
  processes: Record<number, ProcessSample>;
  tick_ms: number;
}

export interface LoopDelay {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

/** Cost of the matrix's own work per tick, for `hardware.get` and the bench. */
export interface TickStats {
  ticks: number;
  /** Sample + scrape + compose, wall time of the last tick. */
  last_tick_ms?: number;
  /** Scrapes of all runtimes, concurrent, wall time. */
  last_scrape_ms?: number;
  /** Composition and publishing: synchronous, on the event loop. */
  last_compose_ms?: number;
  max_compose_ms?: number;
  mean_compose_ms?: number;
  /** Runtimes scraped in the last tick. */
  scraped: number;
  /** Ticks whose scrape was skipped because the previous one was still running. */
  skipped: number;
  /** Event-loop delay over the last tick interval (all of the daemon's work, the tick's included). */
  loop_delay_last_interval?: LoopDelay;
  /** Worst p99 and max of those intervals since start. */
  loop_delay_worst_interval?: LoopDelay;
}

export interface HardwareResult {
  generated: string;
  inventory: HardwareInventory;
  sample?: HardwareSample;
  /** Event-loop delay since the sampler started. */
  loop_delay: LoopDelay;
  sample_interval_ms: number;
  /** Process usage of each running runtime, by runtime id. */
  runtimes: Record<string, ProcessSample & { hardware: string }>;
  tick: TickStats;
}
