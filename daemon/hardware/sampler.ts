import os from "node:os";
import type { Clock } from "../../base/clock.js";
import { rfc3339, systemClock } from "../../base/clock.js";
import { monotonicMs } from "../../base/monotonic.js";
import type {
  GpuInfo,
  GpuSample,
  HardwareInventory,
  HardwareSample,
  LoopDelay,
} from "../../ipc/protocol/hardware.js";
import { type LoopDelayMonitor, type LoopDelayWindow, sharedLoopDelay } from "../telemetry/loop-delay.js";
import { queryNvidiaSample } from "./nvidia.js";
import { sampleProcesses } from "./process-usage.js";
import type { DrmCard } from "./sysfs-gpu.js";
import { readAmdGpu, scanDrmCards } from "./sysfs-gpu.js";

export interface HardwareSamplerOptions {
  intervalMs: number;
  inventory: HardwareInventory;
  /** Pids of the running runtimes, read at each tick. */
  pids: () => number[];
  onSample: (sample: HardwareSample) => void;
  nvidiaSmi?: string;
  sysfsRoot?: string;
  clock?: Clock;
  /** Bound on one nvidia-smi call; default min(interval, 3000) ms, at least 500 ms. */
  gpuTimeoutMs?: number;
  /** Where the loop delay is measured; default the daemon's one monitor. */
  loopDelay?: LoopDelayMonitor;
}

interface CpuTimes {
  busy: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    const all = t.user + t.nice + t.sys + t.irq + t.idle;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/**
 * Samples memory, CPU, GPUs and the runtimes' processes on an interval. Every source is cheap and asynchronous
 * (node:os counters, one nvidia-smi call, sysfs reads, one batched pidusage call); a tick never overlaps the
 * previous one: if it is still running when the interval fires, that tick is skipped.
 */
export class HardwareSampler {
  private readonly clock: Clock;
  private readonly gpuTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<HardwareSample> | undefined;
  private lastCpu: CpuTimes = cpuTimes();
  private amdCards: Promise<DrmCard[]> | undefined;
  /** Delay since the first start() (telemetry/loop-delay.ts: one timer for every reader). */
  private loopWindow: LoopDelayWindow | undefined;
  /** Interval ticks skipped because the previous one was still running. */
  skippedTicks = 0;

  constructor(private readonly opts: HardwareSamplerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.gpuTimeoutMs = opts.gpuTimeoutMs ?? Math.max(500, Math.min(opts.intervalMs, 3000));
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.loopWindow = (this.opts.loopDelay ?? sharedLoopDelay).open(this.loopWindow);
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.loopWindow !== undefined) (this.opts.loopDelay ?? sharedLoopDelay).close(this.loopWindow);
  }

  /** Event-loop delay since start(), in ms (zeros before start). */
  get loopDelay(): LoopDelay {
    return this.loopWindow?.summary() ?? { p50_ms: 0, p99_ms: 0, max_ms: 0 };
  }

  /** One sample now; joins the tick in flight instead of starting a second one. */
  sampleOnce(): Promise<HardwareSample> {
    if (this.inFlight !== undefined) return this.inFlight;
    const run = this.collect().finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  private tick(): void {
    if (this.inFlight !== undefined) {
      this.skippedTicks++;
      return;
    }
    this.sampleOnce().then(
      (sample) => {
        if (this.timer === undefined) return; // stopped while the tick ran
        try {
          this.opts.onSample(sample);
        } catch {
          // A listener's failure must not stop sampling.
        }
      },
      () => {
        // collect() does not reject: each source degrades to "unknown" on its own.
      },
    );
  }

  private async collect(): Promise<HardwareSample> {
    const started = monotonicMs();
    const total = os.totalmem();
    const available = Math.min(os.freemem(), total);
    const [gpus, processes] = await Promise.all([this.sampleGpus(), this.sampleProcessesSafely()]);
    return {
      at: rfc3339(this.clock.now()),
      memory: { total_bytes: total, available_bytes: available, used_bytes: total - available },
      cpu: { load_percent: this.cpuLoadPercent(), load_avg: os.loadavg() },
      gpus,
      processes,
      tick_ms: Math.round((monotonicMs() - started) * 100) / 100,
    };
  }

  private async sampleProcessesSafely(): Promise<HardwareSample["processes"]> {
    try {
      return await sampleProcesses(this.opts.pids());
    } catch {
      return {};
    }
  }

  private cpuLoadPercent(): number {
    const now = cpuTimes();
    const total = now.total - this.lastCpu.total;
    const busy = now.busy - this.lastCpu.busy;
    this.lastCpu = now;
    if (total <= 0) return 0;
    return Math.round(Math.min(100, Math.max(0, (busy / total) * 100)) * 10) / 10;
  }

  private async sampleGpus(): Promise<GpuSample[]> {
    const gpus = this.opts.inventory.gpus;
    const nvidia = gpus.filter((gpu) => gpu.vendor === "nvidia");
    const amd = gpus.filter((gpu) => gpu.vendor === "amd");
    const [nvidiaSamples, amdSamples] = await Promise.all([this.sampleNvidia(nvidia), this.sampleAmd(amd)]);
    const byId = new Map<string, GpuSample>();
    for (const sample of [...nvidiaSamples, ...amdSamples]) byId.set(sample.id, sample);
    return gpus.map(
      (gpu) =>
        byId.get(gpu.id) ?? {
          id: gpu.id,
          status: "unknown",
          reason: `utilisation is not sampled for ${gpu.vendor} GPUs`,
        },
    );
  }

  private async sampleNvidia(gpus: GpuInfo[]): Promise<GpuSample[]> {
    if (gpus.length === 0) return [];
    try {
      const rows = await queryNvidiaSample(this.opts.nvidiaSmi ?? "nvidia-smi", this.gpuTimeoutMs);
      return gpus.map((gpu) => {
        const row = rows.find((r) => r.index === gpu.index);
        if (row === undefined)
          return { id: gpu.id, status: "unknown", reason: `nvidia-smi did not report GPU ${gpu.index}` };
        const { index: _index, ...values } = row;
        return { id: gpu.id, ...values, status: "ok" };
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return gpus.map((gpu) => ({ id: gpu.id, status: "unknown", reason }));
    }
  }

  private async sampleAmd(gpus: GpuInfo[]): Promise<GpuSample[]> {
    if (gpus.length === 0) return [];
    this.amdCards ??= scanDrmCards(this.opts.sysfsRoot ?? "/sys").then((cards) =>
      cards.filter((c) => c.vendor === "amd"),
    );
    const cards = await this.amdCards;
    return Promise.all(
      gpus.map(async (gpu): Promise<GpuSample> => {
        const card =
          (gpu.bus_id !== undefined ? cards.find((c) => c.busId === gpu.bus_id) : undefined) ??
          cards[gpu.index];
        if (card === undefined)
          return { id: gpu.id, status: "unknown", reason: "AMD GPU no longer in sysfs" };
        const reading = await readAmdGpu(card);
        if (Object.keys(reading).length === 0) {
          return { id: gpu.id, status: "unknown", reason: `no amdgpu counters under ${card.devicePath}` };
        }
        return { id: gpu.id, ...reading, status: "ok" };
      }),
    );
  }
}
