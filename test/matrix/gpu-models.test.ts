/**
 * A real daemon with a fake `nvidia-smi` first on its PATH (a real process printing real CSV): GPU placement,
 * GPU load in the cell, models that fit and do not fit the fake VRAM, a model file appearing in a watched
 * directory, the socket methods and the CLI, and a GPU tool that breaks while the daemon runs.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MatrixResult } from "../../ipc/protocol/matrix.js";
import type { ModelInspectResult, ModelListResult } from "../../ipc/protocol/models.js";
import { writeFakeNvidiaSmi } from "../hardware/fake-nvidia.js";
import {
  type DaemonHandle,
  runCli,
  startDaemon,
  stopAll,
  tempDir,
  until,
} from "../support/daemon-harness.js";
import { writeTinyGguf } from "../support/gguf-writer.js";
import { call, cellIn, collect, hardwareOf, matrixOf } from "./support.js";

const GIB = 1024 ** 3;
let dir: string;
let models: string;
let fake: string;
let d: DaemonHandle;

/** 200 layers × ctx 4096 × 64 KV heads × 128 dims: a ~27 GB KV cache, more than the fake 24 GiB GPU. */
const HUGE = {
  block_count: 200,
  embedding_length: 8192,
  head_count: 64,
  head_count_kv: 64,
  context_length: 4096,
};
const TINY = { block_count: 2, embedding_length: 64, head_count: 4, context_length: 512, name: "Tiny" };

beforeAll(async () => {
  dir = await tempDir("rmx-matrix-gpu-");
  models = path.join(dir, "models");
  fake = path.join(dir, "fake-bin");
  await import("node:fs/promises").then((fs) => Promise.all([fs.mkdir(models), fs.mkdir(fake)]));
  await writeFakeNvidiaSmi(fake, "ok");
  await writeTinyGguf(path.join(models, "tiny.gguf"), TINY);
  await writeTinyGguf(path.join(models, "huge.gguf"), HUGE);
  d = await startDaemon({
    env: { PATH: `${fake}${path.delimiter}${process.env.PATH ?? ""}` },
    config: `
telemetry: { sample_interval: 200ms }
model_dirs: [${JSON.stringify(models)}]
runtimes:
  - id: on-gpu
    adapter: llama-stub
    model: ${JSON.stringify(path.join(models, "tiny.gguf"))}
    hardware: gpu:0
    auto_start: true
`,
    ready: ["on-gpu"],
  });
});

afterAll(stopAll);

describe("GPU placement from the fake nvidia-smi", () => {
  it("the runtime on gpu:0 gets CUDA_VISIBLE_DEVICES=0 and the cell shows the GPU's load", async () => {
    const rt = (await d.status()).runtimes.find((r) => r.id === "on-gpu");
    expect(rt?.state).toBe("ready");
    const environ = (await readFile(`/proc/${rt?.pid}/environ`, "utf8")).split("\0");
    expect(environ).toContain("CUDA_VISIBLE_DEVICES=0");
    expect(environ).toContain("CUDA_DEVICE_ORDER=PCI_BUS_ID");
    const cmdline = (await readFile(`/proc/${rt?.pid}/cmdline`, "utf8")).split("\0");
    expect(cmdline.slice(cmdline.indexOf("-ngl"), cmdline.indexOf("-ngl") + 2)).toEqual(["-ngl", "999"]);

    const result = await until(
      async () => {
        const m = await matrixOf(d);
        const load = cellIn(m, "tiny@gpu:0/none").load;
        return load.gpu_util_percent !== undefined && load.rss_bytes !== undefined ? m : undefined;
      },
      10_000,
      "a tick with the GPU and the runtime's process sampled",
    );
    expect(result.axes.hardware).toEqual(["cpu", "gpu:0", "gpu:1"]);
    const cell = cellIn(result, "tiny@gpu:0/none");
    expect(cell).toMatchObject({ hardware: "gpu:0", runtimes: ["on-gpu"], available: true });
    expect(cell.status.code).toBe("ready");
    // SAMPLE_CSV: gpu 0 at 37 %, 1024 of 24576 MiB used.
    expect(cell.load.gpu_util_percent).toBe(37);
    expect(cell.load.vram_share).toBe(Math.round((1024 / 24576) * 1000) / 1000);
    expect(cell.load.rss_bytes).toBeGreaterThan(0);
    // The other GPU's cell has no runtime and no load of its own.
    expect(cellIn(result, "tiny@gpu:1/none").load).toEqual({ leases_held: 0, lease_capacity: 0 });

    const hw = await hardwareOf(d);
    expect(hw.inventory.gpus.map((g) => [g.id, g.model, g.vram_bytes])).toEqual([
      ["gpu:0", "NVIDIA GeForce RTX 3090", 24576 * 1024 * 1024],
      ["gpu:1", "NVIDIA RTX A2000 12GB", 12282 * 1024 * 1024],
    ]);
    expect(hw.runtimes["on-gpu"]).toMatchObject({ pid: rt?.pid, hardware: "gpu:0" });
    expect(hw.tick.ticks).toBeGreaterThan(0);
    expect(hw.loop_delay.max_ms).toBeGreaterThanOrEqual(0);
  });
});

describe("fit", () => {
  it("a model whose KV cache exceeds the fake GPU's VRAM does not fit, with the numbers; a tiny one fits", async () => {
    const result = await matrixOf(d);
    expect(result.axes.models).toEqual(["huge", "tiny"]);
    const huge = cellIn(result, "huge@gpu:0/none");
    expect(huge.runtimes).toEqual([]);
    expect(huge.status.label).toBe("No runtime");
    expect(huge.fit.fits).toBe(false);
    expect(huge.fit.available_bytes).toBe(24 * GIB);
    expect(huge.fit.need_bytes).toBeGreaterThan(24 * GIB);
    expect(huge.fit.reason).toMatch(
      /^needs 2\d\.\d GiB \(weights .* \+ KV 2\d\.\d GiB at ctx 4096 .*\), gpu:0 has 24\.0 GiB$/,
    );
    expect(cellIn(result, "huge@gpu:1/none").fit.fits).toBe(false);
    expect(cellIn(result, "tiny@gpu:0/none").fit.fits).toBe(true);
    expect(cellIn(result, "tiny@gpu:1/bwrap").fit.fits).toBe(true);

    const list = await call<ModelListResult>(d, "models.list");
    const byId = Object.fromEntries(list.models.map((m) => [m.id, m]));
    expect(byId.huge?.gguf).toMatchObject({ block_count: 200, head_count: 64, architecture: "llama" });
    expect(byId.huge?.estimate?.kv_cache_bytes).toBe(2 * 200 * 4096 * 128 * 64 * 2);
    expect(Object.keys(byId.huge?.fit ?? {})).toEqual(["cpu", "gpu:0", "gpu:1"]);
    expect(byId.huge?.fit["gpu:0"]?.fits).toBe(false);
    expect(byId.tiny?.runtimes).toEqual(["on-gpu"]);
    expect(byId.tiny?.fit["gpu:0"]?.fits).toBe(true);
  });

  it("models.inspect: facts, estimate and fit; strict params; MODEL_MISSING and MODEL_INVALID", async () => {
    const file = path.join(models, "huge.gguf");
    const inspected = await call<ModelInspectResult>(d, "models.inspect", { path: file, context: 512 });
    expect(inspected.info).toMatchObject({ path: file, block_count: 200, context_length: 4096 });
    expect(inspected.estimate.context).toBe(512);
    expect(inspected.fit["gpu:1"]?.fits).toBe(true);
    const byId = await call<ModelInspectResult>(d, "models.inspect", { model: "huge" });
    expect(byId.fit["gpu:0"]?.fits).toBe(false);

    const c = await d.client();
    try {
      await expect(c.call("models.inspect", { path: "relative.gguf" })).rejects.toMatchObject({
        code: -32602,
        message: expect.stringContaining("must be an absolute path"),
      });
      await expect(c.call("models.inspect", { path: file, model: "huge" })).rejects.toMatchObject({
        code: -32602,
      });
      await expect(c.call("models.inspect", { path: file, bogus: 1 })).rejects.toMatchObject({
        message: expect.stringContaining('unknown key "bogus"'),
      });
      await expect(c.call("hardware.get", { refresh: "yes" })).rejects.toMatchObject({ code: -32602 });
      await expect(c.call("models.inspect", { path: path.join(dir, "absent.gguf") })).rejects.toMatchObject({
        stableCode: "MODEL_MISSING",
      });
      const notGguf = path.join(dir, "notes.gguf");
      await writeFile(notGguf, "this is not a model\n");
      await expect(c.call("models.inspect", { path: notGguf })).rejects.toMatchObject({
        stableCode: "MODEL_INVALID",
      });
      await expect(c.call("models.inspect", { model: "no-such-model" })).rejects.toMatchObject({
        stableCode: "MODEL_MISSING",
      });
    } finally {
      await c.close();
    }
  });
});

describe("the models axis follows the model directories", () => {
  it("a file appearing → models.changed, matrix.changed with the new cells, and a new row in matrix.get", async () => {
    const client = await d.client();
    const events = await collect(client, ["models.changed", "matrix.changed"]);
    const mark = events.mark();
    const started = Date.now();
    await writeTinyGguf(path.join(models, "fresh.gguf"), TINY);
    const changed = await events.next(
      (e) => e.topic === "models.changed" && (e.payload as { added: string[] }).added.includes("fresh"),
      5_000,
      "models.changed adding fresh",
      mark,
    );
    const elapsed = Date.now() - started;
    console.info(`models.changed for a new file after ${elapsed} ms`);
    expect(changed.payload).toMatchObject({ added: ["fresh"] });
    const matrixChanged = await events.next(
      (e) =>
        e.topic === "matrix.changed" && (e.payload as { added: string[] }).added.includes("fresh@cpu/none"),
      5_000,
      "matrix.changed adding the fresh cells",
      mark,
    );
    expect((matrixChanged.payload as { added: string[] }).added).toHaveLength(9);
    const result: MatrixResult = await matrixOf(d);
    expect(result.axes.models).toEqual(["fresh", "huge", "tiny"]);
    expect(cellIn(result, "fresh@gpu:0/none").fit.fits).toBe(true);
    await client.close();
  });
});

describe("the CLI", () => {
  it("rmx matrix: an 80-column grid with the GPU columns and a legend; --list; --json", async () => {
    const grid = await d.cli(["matrix"]);
    expect(grid.code).toBe(0);
    const lines = grid.stdout.trimEnd().split("\n");
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(grid.stdout).toMatch(/gpu:0/);
    expect(grid.stdout).toMatch(/^huge +nofit/m);
    expect(grid.stdout).toMatch(/^Legend: /m);
    expect(lines.filter((l) => /^tiny /.test(l)).join(" ")).toMatch(/ready/);

    const list = await d.cli(["matrix", "--list"]);
    expect(list.stdout).toMatch(/^tiny on gpu:0 in sandbox none: Ready; .*runtimes: on-gpu\.$/m);
    expect(list.stdout).toMatch(/^huge on gpu:0 in sandbox none: No runtime; does not fit: needs /m);

    const json = JSON.parse((await d.cli(["matrix", "--json"])).stdout) as MatrixResult;
    expect(json.cells.length).toBe(json.axes.models.length * 3 * 3);
  });

  it("rmx hardware and rmx models, as text and --json", async () => {
    const hw = await d.cli(["hardware"]);
    expect(hw.code).toBe(0);
    expect(hw.stdout).toMatch(
      /^ {2}gpu:0 +NVIDIA GeForce RTX 3090 +24\.0 GiB +nvidia +37% busy, 1\.0 GiB VRAM used$/m,
    );
    expect(hw.stdout).toMatch(/^ {2}on-gpu +gpu:0 +pid \d+/m);
    expect(hw.stdout).toMatch(/^event loop delay p50 /m);
    expect(JSON.parse((await d.cli(["hardware", "--json"])).stdout).inventory.gpus).toHaveLength(2);

    const text = await d.cli(["models"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^huge {2}\(dir\) .*huge\.gguf$/m);
    expect(text.stdout).toMatch(/does not fit .*gpu:0/);
    const parsed = JSON.parse((await d.cli(["models", "--json"])).stdout) as ModelListResult;
    expect(parsed.models.find((m) => m.id === "tiny")?.fit["gpu:0"]?.fits).toBe(true);
  });
});

describe("a GPU tool that breaks while the daemon runs", () => {
  it("marks the GPU unknown with the reason; the matrix keeps working", async () => {
    const broken = path.join(dir, "broken-bin");
    await import("node:fs/promises").then((fs) => fs.mkdir(broken));
    await writeFakeNvidiaSmi(broken, "broken");
    await rename(path.join(broken, "nvidia-smi"), path.join(fake, "nvidia-smi"));
    const hw = await until(
      async () => {
        const h = await hardwareOf(d);
        return h.sample?.gpus[0]?.status === "unknown" ? h : undefined;
      },
      10_000,
      "a sample with the GPU unknown",
    );
    expect(hw.sample?.gpus[0]?.reason).toMatch(/NVIDIA driver|exit/i);
    const cell = cellIn(await matrixOf(d), "tiny@gpu:0/none");
    expect(cell.status.code).toBe("ready");
    expect(cell.load.gpu_util_percent).toBeUndefined();

    const refreshed = await hardwareOf(d, true);
    expect(refreshed.inventory.gpus.map((g) => [g.id, g.status])).toEqual([
      ["gpu:0", "unknown"],
      ["gpu:1", "unknown"],
    ]);
    expect(refreshed.inventory.gpus[0]?.reason).toMatch(/NVIDIA driver|exit/i);
    // Still a placement target, still in the grid.
    expect((await matrixOf(d)).axes.hardware).toEqual(["cpu", "gpu:0", "gpu:1"]);
    const text = await runCli(["hardware"], { env: { RMX_SOCKET: d.socket } });
    expect(text.stdout).toMatch(/gpu:0 .*unknown: /);
  });
});
