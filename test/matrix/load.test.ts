/**
 * A real daemon and a real stub under a real client's chat load: the cell's throughput and load move with the
 * load and fall back to zero after it, while the backend's lifetime counters stay up (rates are deltas).
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseLlamaMetrics } from "../../adapters/shared/metrics.js";
import { startDaemon, stopAll } from "../support/daemon-harness.js";
import { cellIn, chatLoad, collect, matrixOf } from "./support.js";

afterEach(stopAll);

const KEY = "stub-model@cpu/none";

const CONFIG = `
telemetry: { sample_interval: 250ms }
runtimes:
  - id: busy
    adapter: llama-stub
    auto_start: true
    slots: 2
    args: ["--alias", "stub-model", "--stub-tokens-per-second", "400", "--slots"]
`;

interface CellHealth {
  scope: string;
  key: string;
  status: { code: string };
  throughput: {
    generated_tokens_per_second?: number;
    prompt_tokens_per_second?: number;
    window_seconds?: number;
  };
  load: {
    requests_processing?: number;
    slots_busy?: number;
    slots_total?: number;
    rss_bytes?: number;
    cpu_percent?: number;
  };
}

describe("throughput and load in the grid", () => {
  it("move while a client sends chat requests, and return to zero after", async () => {
    const d = await startDaemon({ config: CONFIG, ready: ["busy"] });
    const endpoint = (await d.status()).runtimes[0]?.endpoint as string;
    const client = await d.client();
    const events = await collect(client, ["runtime.health", "matrix.changed"]);
    const cellEvent = (pred: (p: CellHealth) => boolean) => (e: { payload: unknown }) => {
      const p = e.payload as CellHealth;
      return p.scope === "cell" && p.key === KEY && pred(p);
    };

    // Idle: the rate is a measured zero, slots are all free.
    const idle = await events.next(
      cellEvent((p) => p.throughput.generated_tokens_per_second === 0),
      10_000,
      "an idle tick",
    );
    expect((idle.payload as CellHealth).load).toMatchObject({
      slots_busy: 0,
      slots_total: 2,
      requests_processing: 0,
    });

    const load = chatLoad(endpoint, 2, 16);
    let busy: CellHealth;
    try {
      busy = (
        await events.next(
          cellEvent(
            (p) => (p.throughput.generated_tokens_per_second ?? 0) > 0 && (p.load.slots_busy ?? 0) > 0,
          ),
          15_000,
          "a tick with tokens/s and busy slots",
        )
      ).payload as CellHealth;
      // The same facts through matrix.get and the CLI grid while the load runs.
      const cell = cellIn(await matrixOf(d), KEY);
      expect(cell.runtimes).toEqual(["busy"]);
      expect(cell.status.code).toBe("ready");
      expect(cell.throughput.window_seconds).toBeGreaterThan(0);
      const grid = await d.cli(["matrix"]);
      expect(grid.code).toBe(0);
      expect(grid.stdout).toMatch(/^stub-model +ready/m);
      for (const line of grid.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    } finally {
      await load.stop();
    }
    expect(busy.status.code).toBe("ready");
    expect(busy.load.slots_total).toBe(2);
    expect(busy.load.requests_processing).toBeGreaterThanOrEqual(0);
    expect(busy.throughput.prompt_tokens_per_second).toBeGreaterThan(0);
    expect(busy.load.rss_bytes).toBeGreaterThan(0);
    expect(load.tokens).toBeGreaterThan(0);

    // After the load: back to zero, although the backend's lifetime counters are well above it.
    const after = await events.next(
      cellEvent(
        (p) =>
          p.throughput.generated_tokens_per_second === 0 &&
          p.load.slots_busy === 0 &&
          p.load.requests_processing === 0,
      ),
      15_000,
      "a quiet tick after the load",
    );
    expect((after.payload as CellHealth).throughput.prompt_tokens_per_second).toBe(0);
    const metrics = parseLlamaMetrics(await (await fetch(`${endpoint}/metrics`)).text());
    expect(metrics.tokens_predicted_total).toBeGreaterThanOrEqual(load.tokens);

    // Every tick's rate was a delta: the sum of rate × window over the run cannot exceed what was generated
    // by more than the tokens of the requests in flight at the ticks' edges.
    const samples = events.seen
      .map((e) => e.payload as CellHealth)
      .filter(
        (p) => p.scope === "cell" && p.key === KEY && p.throughput.generated_tokens_per_second !== undefined,
      );
    const integrated = samples.reduce(
      (n, p) => n + (p.throughput.generated_tokens_per_second ?? 0) * (p.throughput.window_seconds ?? 0),
      0,
    );
    expect(integrated).toBeGreaterThan(0);
    expect(integrated).toBeLessThanOrEqual((metrics.tokens_predicted_total ?? 0) * 1.01 + 1);

    // A state change is a status-code change of the cell: matrix.changed says which, from what, to what.
    const stopped = events.next(
      (e) =>
        e.topic === "matrix.changed" &&
        (e.payload as { changed: { key: string; to: string }[] }).changed.some(
          (c) => c.key === KEY && c.to === "offline",
        ),
      10_000,
      "matrix.changed for the stopped runtime",
    );
    expect((await d.cli(["runtime", "stop", "--id", "busy", "--wait"])).code).toBe(0);
    const changed = await stopped;
    expect((changed.payload as { changed: unknown[] }).changed).toContainEqual({
      key: KEY,
      from: "ready",
      to: "offline",
    });
    expect(cellIn(await matrixOf(d), KEY).status.code).toBe("offline");
    await client.close();
  });
});
