/**
 * The matrix composes its cells per tick only while someone follows them (`matrix.changed` or
 * `runtime.health` subscribers); otherwise the tick keeps its observations and every read composes. Its
 * scrapes follow demand the same way, with an idle cadence for when nobody looks.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import type { RuntimeSpec } from "../../base/spec.js";
import { parseConfigText } from "../../config/load.js";
import { EventBus } from "../../daemon/events.js";
import { createMatrix, type MatrixRuntimeSource, type MatrixService } from "../../daemon/matrix/service.js";
import type { HardwareInventory } from "../../ipc/protocol/hardware.js";
import { matrixRuntime } from "./fixtures.js";

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

function matrixOn(
  bus: EventBus,
  extra: Partial<Parameters<typeof createMatrix>[0]> = {},
  config = parseConfigText(CONFIG, "rmx.yaml", "/etc/rmx", { home: "/home/t" }),
): MatrixService {
  const m = createMatrix({
    clock: new ManualClock(),
    bus,
    config,
    inventory,
    sandboxes: [],
    models: { list: () => [], get: () => undefined },
    runtimes: new Map(),
    ...extra,
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

describe("matrix: scrapes follow demand", () => {
  it("every tick while followed or lately read; else once per idle cadence, and a read finds figures that old at most", async () => {
    let scrapes = 0;
    let tokens = 0;
    const server = http.createServer((req, res) => {
      if (req.url === "/metrics") {
        scrapes++;
        tokens += 100;
        res.end(`llamacpp:tokens_predicted_total ${tokens}\nllamacpp:requests_processing 0\n`);
        return;
      }
      res.statusCode = 404;
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const clock = new ManualClock();
      const bus = new EventBus(clock);
      const config = parseConfigText(CONFIG, "rmx.yaml", "/etc/rmx", { home: "/home/t" });
      const rtSpec = config.runtimes[0] as RuntimeSpec;
      const source: MatrixRuntimeSource = {
        spec: rtSpec,
        state: "ready",
        pid: undefined,
        endpoint: `http://127.0.0.1:${port}`,
        view: () => matrixRuntime("r1", "ready", { model: "tiny", spec: rtSpec }).view,
      };
      const m = matrixOn(
        bus,
        {
          clock,
          runtimes: new Map([["r1", source]]),
          scrapeCadence: { idle_scrape_ms: 30_000, read_hold_ms: 60_000 },
        },
        config,
      );
      const tick = async () => {
        clock.advance(5000);
        await m.tick({ scrape: "due" });
      };
      await m.tick({ scrape: "due" }); // the first tick scrapes: nothing was ever scraped
      const first = scrapes;
      expect(first).toBeGreaterThanOrEqual(1);
      for (let i = 0; i < 5; i++) await tick(); // 25 s, nobody looking: no scrape
      expect(scrapes).toBe(first);
      await tick(); // 30 s after the last one: the idle cadence's scrape
      expect(scrapes).toBe(first + 1);
      const scrapedAt = clock.now();
      clock.advance(20_000);
      // A read sees what the idle scrape saw (at most idle_scrape_ms old)…
      expect(m.backendMetrics().get("r1")?.tokens_predicted_total).toBe(tokens);
      expect(clock.now() - scrapedAt).toBeLessThanOrEqual(30_000);
      // …and keeps every tick scraping for read_hold_ms.
      for (let i = 0; i < 12; i++) await tick(); // 60 s
      expect(scrapes).toBe(first + 1 + 11); // the 12th tick is past the hold: due again only at the cadence
      const afterHold = scrapes;
      for (let i = 0; i < 5; i++) await tick();
      expect(scrapes).toBe(afterHold + 1); // 30 s after the last held scrape
      // A follower: every tick.
      const off = bus.subscribe(["matrix.changed"], () => {});
      const followed = scrapes;
      for (let i = 0; i < 3; i++) await tick();
      expect(scrapes).toBe(followed + 3);
      off();
      // tick() without `due` scrapes whatever the demand (tests, benches, `hardware.get`-style callers).
      const forced = scrapes;
      await m.tick();
      expect(scrapes).toBe(forced + 1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
