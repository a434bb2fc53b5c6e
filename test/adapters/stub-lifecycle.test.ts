import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { httpRequest } from "../../adapters/shared/http.js";
import { parseLlamaMetrics } from "../../adapters/shared/metrics.js";
import {
  freePort,
  get,
  isAlive,
  killAllStubs,
  killGroup,
  openStream,
  post,
  type StubProcess,
  spawnStub,
  waitFor,
} from "./stub-harness.js";

const LOADING_BODY = { error: { code: 503, message: "Loading model", type: "unavailable_error" } };

async function metricsOf(stub: StubProcess) {
  return parseLlamaMetrics((await get(`${stub.endpoint}/metrics`)).body);
}

afterEach(killAllStubs);

describe("slots limit concurrency", () => {
  it("counts a request in flight as processing and a request waiting for a slot as deferred", async () => {
    const stub = await spawnStub([
      "--metrics",
      "--slots",
      "-np",
      "1",
      "--stub-tokens-per-second",
      "20",
    ]).ready();
    const url = `${stub.endpoint}/v1/chat/completions`;
    const long = { messages: [{ role: "user", content: "go on" }], max_tokens: 2000, stream: true };

    const first = openStream(url, long);
    await first.firstChunk;
    expect(await metricsOf(stub)).toMatchObject({ requests_processing: 1, requests_deferred: 0 });
    const slots = (await get(`${stub.endpoint}/slots`)).json<{ is_processing: boolean }[]>();
    expect(slots[0]?.is_processing).toBe(true);

    const second = openStream(url, long);
    await waitFor(async () => (await metricsOf(stub)).requests_deferred === 1, 10_000, "a deferred request");
    expect((await metricsOf(stub)).requests_processing).toBe(1);

    // A client that goes away frees its slot for the one waiting.
    first.close();
    await second.firstChunk;
    expect(await metricsOf(stub)).toMatchObject({ requests_processing: 1, requests_deferred: 0 });
    second.close();
    await waitFor(async () => (await metricsOf(stub)).requests_processing === 0, 10_000, "an idle slot");
  });
});

describe("endpoints off by default", () => {
  it("answers /slots and /metrics with 501 not_supported_error without --slots and --metrics", async () => {
    const stub = await spawnStub([]).ready();
    const slots = await get(`${stub.endpoint}/slots`);
    expect(slots.status).toBe(501);
    expect(slots.json()).toEqual({
      error: {
        code: 501,
        message: "This server does not support slots endpoint. Start it with `--slots`",
        type: "not_supported_error",
      },
    });
    const metrics = await get(`${stub.endpoint}/metrics`);
    expect(metrics.status).toBe(501);
    expect(metrics.json<{ error: { type: string } }>().error.type).toBe("not_supported_error");
  });
});

describe("start-up", () => {
  it("answers 503 Loading model while loading, then 200", async () => {
    const stub = await spawnStub(["--stub-load-ms", "1500"]).started();
    const loading = await get(`${stub.endpoint}/health`);
    expect(loading.status).toBe(503);
    expect(loading.json()).toEqual(LOADING_BODY);
    expect((await post(`${stub.endpoint}/v1/chat/completions`, { messages: [] })).status).toBe(503);
    await waitFor(async () => (await get(`${stub.endpoint}/health`)).status === 200, 10_000, "health 200");
    expect(stub.stderr()).toContain("main: model loaded");
  });

  it("with --stub-bind-after-load refuses connections while loading, then answers 200", async () => {
    const port = await freePort();
    const stub = spawnStub(["--port", String(port), "--stub-load-ms", "1000", "--stub-bind-after-load"]);
    await stub.waitForOutput(/main: loading model/);
    await expect(get(`${stub.endpoint}/health`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await stub.ready();
    expect((await get(`${stub.endpoint}/health`)).json()).toEqual({ status: "ok" });
    const log = stub.stderr();
    expect(log.indexOf("main: loading model")).toBeLessThan(log.indexOf("HTTP server is listening"));
  });

  it("dies of SIGABRT with llama-server's message when the model file is missing, as b4748 does", async () => {
    const missing = path.join(os.tmpdir(), "rmx-no-such-model.gguf");
    const stub = spawnStub(["-m", missing]);
    expect(await stub.exited).toEqual({ code: null, signal: "SIGABRT" });
    expect(stub.stderr()).toContain("terminate called without an active exception");
    expect(stub.stderr()).toContain(`failed to open GGUF file '${missing}'`);
    expect(stub.stderr()).toContain("main: exiting due to model loading error");
  });

  it("exits 1 with couldn't bind when the port is in use", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const stub = spawnStub(["--port", String(port)]);
      expect(await stub.exited).toEqual({ code: 1, signal: null });
      expect(stub.stderr()).toContain(`couldn't bind HTTP server socket, hostname: 127.0.0.1, port: ${port}`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("skips flags it does not model and rejects a mistyped fault flag", async () => {
    const stub = await spawnStub([
      "--flash-attn",
      "--temp",
      "0.2",
      "--seed",
      "-1",
      "--mlock",
      "--metrics",
    ]).ready();
    expect((await get(`${stub.endpoint}/metrics`)).status).toBe(200);
    const typo = spawnStub(["--stub-crash-afterms", "5"]);
    expect((await typo.exited).code).toBe(1);
    expect(typo.stderr()).toContain("unknown stub flag --stub-crash-afterms");
  });
});

describe("stopping and crashing", () => {
  it.each(["SIGTERM", "SIGINT"] as const)(
    "dies of SIGABRT on %s like b4748, writing no core file",
    async (signal) => {
      const cwd = await fs.mkdtemp(path.join(os.tmpdir(), "rmx-stub-core-"));
      try {
        const stub = await spawnStub([], {}, cwd).ready();
        stub.child.kill(signal);
        expect(await stub.exited).toEqual({ code: null, signal: "SIGABRT" });
        const lines = stub.stderr().trim().split("\n");
        expect(lines.slice(-2)).toEqual([
          "srv    operator(): operator(): cleaning up before exit...",
          "terminate called without an active exception",
        ]);
        expect(await fs.readdir(cwd)).toEqual([]);
      } finally {
        await fs.rm(cwd, { recursive: true, force: true });
      }
    },
  );

  it.each(["SIGTERM", "SIGINT"] as const)(
    "exits 0 on %s with --exit-clean-on-term (stub only)",
    async (signal) => {
      const stub = await spawnStub(["--exit-clean-on-term"]).ready();
      stub.child.kill(signal);
      expect(await stub.exited).toEqual({ code: 0, signal: null });
      expect(stub.stderr()).toContain("cleaning up before exit");
    },
  );

  it("crashes on its own with the exit code asked for", async () => {
    const stub = spawnStub(["--stub-crash-after-ms", "200", "--stub-exit-code", "7"]);
    expect(await stub.exited).toEqual({ code: 7, signal: null });
  });

  it.each(["SIGHUP", "SIGTERM"] as const)("dies by %s with --stub-exit-signal", async (signal) => {
    const stub = spawnStub(["--stub-crash-after-ms", "200", "--stub-exit-signal", signal]);
    expect(await stub.exited).toEqual({ code: null, signal });
  });

  it("ignores SIGTERM with --stub-ignore-sigterm and keeps serving until SIGKILL", async () => {
    const stub = await spawnStub(["--stub-ignore-sigterm"]).ready();
    stub.child.kill("SIGTERM");
    await stub.waitForOutput(/ignoring SIGTERM/);
    expect((await get(`${stub.endpoint}/health`)).status).toBe(200);
    expect(stub.child.exitCode).toBeNull();
    stub.child.kill("SIGKILL");
    expect(await stub.exited).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("leaves a grandchild behind that only a process-group kill removes", async () => {
    const stub = spawnStub(["--stub-grandchild", "--exit-clean-on-term"]);
    const grandchild = Number((await stub.waitForOutput(/grandchild pid (\d+)/))[1]);
    try {
      await stub.ready();
      expect(isAlive(grandchild)).toBe(true);
      stub.child.kill("SIGTERM");
      expect(await stub.exited).toEqual({ code: 0, signal: null });
      expect(isAlive(grandchild)).toBe(true);
      killGroup(stub.pid);
      await waitFor(() => !isAlive(grandchild), 10_000, "the grandchild to die");
    } finally {
      killGroup(stub.pid);
    }
  });
});

describe("runtime faults", () => {
  it("fails inference with 500 while /health stays 200", async () => {
    const stub = await spawnStub(["--stub-fail-inference"]).ready();
    expect((await get(`${stub.endpoint}/health`)).status).toBe(200);
    const chat = await post(`${stub.endpoint}/v1/chat/completions`, {
      messages: [{ role: "user", content: "x" }],
    });
    expect(chat.status).toBe(500);
    expect(chat.json<{ error: { type: string; code: number } }>().error).toMatchObject({
      code: 500,
      type: "server_error",
    });
    expect((await post(`${stub.endpoint}/completion`, { prompt: "x", n_predict: 1 })).status).toBe(500);
  });

  it("fails inference after N successes with --stub-fail-inference-after", async () => {
    const stub = await spawnStub(["--stub-fail-inference-after", "2"]).ready();
    const once = () => post(`${stub.endpoint}/completion`, { prompt: "x", n_predict: 1 });
    expect((await once()).status).toBe(200);
    expect((await once()).status).toBe(200);
    expect((await once()).status).toBe(500);
    expect((await get(`${stub.endpoint}/health`)).status).toBe(200);
  });

  it("takes faults from RMX_STUB_* environment variables", async () => {
    const stub = await spawnStub([], { RMX_STUB_FAIL_INFERENCE: "1" }).ready();
    expect((await post(`${stub.endpoint}/completion`, { prompt: "x" })).status).toBe(500);
  });

  it("answers /health with 500 under --stub-fail-health", async () => {
    const stub = await spawnStub(["--stub-fail-health"]).started();
    await waitFor(async () => (await get(`${stub.endpoint}/health`)).status === 500, 10_000, "health 500");
  });

  it("accepts connections and never answers once hung", async () => {
    const stub = await spawnStub(["--stub-hang-after-ms", "300"]).started();
    await stub.waitForOutput(/hanging/);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(stub.port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    expect(connected).toBe(true);
    const answer = await httpRequest(`${stub.endpoint}/health`, { timeoutMs: 500 });
    expect(answer.kind).toBe("timeout");
    expect(stub.child.exitCode).toBeNull();
  });

  it("writes llama-style log lines to stdout at the asked rate, and as fast as read with max", async () => {
    const rated = await spawnStub(["--stub-chatty-bytes-per-sec", "20000"]).ready();
    await waitFor(() => rated.stdout().length >= 2000, 10_000, "2000 bytes of chatter");
    expect(rated.stdout().split("\n")[0]).toMatch(/^slot update_slots: id {2}0 \| task 0 \| /);

    const flood = await spawnStub(["--stub-chatty-bytes-per-sec", "max"]).ready();
    await waitFor(() => flood.stdout().length >= 4 * 1024 * 1024, 20_000, "4 MiB of chatter");
    // The flood does not starve the HTTP server.
    expect((await get(`${flood.endpoint}/health`)).status).toBe(200);
  });
});
