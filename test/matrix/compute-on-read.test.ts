/**
 * The matrix composes its cells per tick only while someone follows them (`matrix.changed` or
 * `runtime.health` subscribers); otherwise the tick keeps its observations and every read composes.
 */
import os from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { parseConfigText } from "../../config/load.js";
import { EventBus } from "../../daemon/events.js";
import { createMatrix, type MatrixService } from "../../daemon/matrix/service.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";

// Ticks only when the test asks (the sampler's own interval would be 5 s).
const CONFIG = `
telemetry: { sample_interval: 1h }
models:
  - { id: tiny, path: /models/tiny.gguf }
runtimes:
  - { id: r1, adapter: llama.cpp, model: tiny, auto_start: false }
`;

const inventory: HardwareInventory = {
  generated: "2025-01-01T00:00:00.000Z",
  cpu: { id: "cpu", model: "test", cores: os.cpus().length, arch: os.arch() },
  memory: { total_bytes: os.totalmem() },
  os: { platform: process.platform, hostname: os.hostname() },
  gpus: [],
  notes: [],
};

const matrices: MatrixService[] = [];
afterEach(() => {
  for (const m of matrices.splice(0)) m.stop();
});

function matrixOn(bus: EventBus): MatrixService {
  const clock = new ManualClock();
  const config = parseConfigText(CONFIG, "rmx.yaml", "/etc/rmx", { home: "/home/t" });
  const m = createMatrix({
    clock,
    bus,
    config,
    inventory,
    sandboxes: [],
    models: { list: () => [], get: () => undefined },
    runtimes: new Map(),
  });
  matrices.push(m);
  return m;
}

describe("matrix: compute on read", () => {
  it("a tick nobody follows keeps its sample but composes nothing; a follower gets composition per tick", async () => {
    const bus = new EventBus(new ManualClock());
    const m = matrixOn(bus);
    await m.tick();
    await m.tick();
    const ticks = m.stats.ticks; // the start's own tick may be among them
    expect(ticks).toBeGreaterThanOrEqual(2);
    expect(m.composedTicks).toBe(0);
    expect(m.lastSample).toBeDefined();
    // A read composes now, from what the ticks kept.
    expect(m.result().axes.hardware).toEqual(["cpu"]);

    const offChanged = bus.subscribe(["matrix.changed"], () => {});
    await m.tick();
    expect(m.composedTicks).toBe(1);
    offChanged();
    const health: unknown[] = [];
    const offHealth = bus.subscribe(["runtime.health"], (e) => health.push(e));
    await m.tick();
    expect(m.composedTicks).toBe(2);
    offHealth();
    await m.tick();
    expect(m.stats.ticks).toBe(ticks + 3);
    expect(m.composedTicks).toBe(2);
  });
});
