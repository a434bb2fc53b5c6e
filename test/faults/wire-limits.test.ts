/**
 * Reproductions for the wire limits (the "trust" issue), against an RpcServer in its own process
 * (wire-server.mjs) on a real socket: each attack used to hold memory or work without bound. Throughout
 * each, another client's `daemon.hello` must come back within 100 ms (the max of a few samples).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { RawConn } from "../ipc/helpers.js";
import { REPO, until } from "../support/daemon-harness.js";
import { MiB, mib, report, rssBytes } from "./fault-support.js";

const ROUND_TRIP_BOUND_MS = 100;
const SERVER_SCRIPT = path.join(REPO, "test/faults/wire-server.mjs");

interface Stats {
  held: { outboundBytes: number; outboundPeakBytes: number; inboundBytes: number } | null;
  connections: number;
  warnings: number;
  rss: number;
}

interface WireServer {
  socket: string;
  pid: number;
  stats(match?: string): Promise<Stats>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const sockets = new Set<net.Socket>();

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function spawnServer(options: Record<string, unknown> = {}): Promise<WireServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "rmx-wire-"));
  dirs.push(dir);
  const socket = path.join(dir, "run", "rmxd.sock");
  const child = spawn(process.execPath, ["--expose-gc", SERVER_SCRIPT, socket, JSON.stringify(options)], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("ready\n")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`wire-server exited with ${code} before it was ready`)));
  });
  let statsId = 0;
  return {
    socket,
    pid: child.pid!,
    stats: async (match = "") => {
      const c = await RawConn.open(socket);
      try {
        const answer = await c.request(
          JSON.stringify({ jsonrpc: "2.0", id: ++statsId, method: "test.held", params: { match } }),
        );
        return answer.result as Stats;
      } finally {
        c.close();
      }
    },
  };
}

function rawSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    sockets.add(s);
    s.once("connect", () => {
      s.off("error", reject);
      s.on("error", () => {}); // a reset when the server cuts us off is expected
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** The slowest of `samples` sequential `daemon.hello` round trips on one connection, in ms. */
async function maxRoundTripMs(socketPath: string, samples = 5): Promise<number> {
  const c = await RawConn.open(socketPath);
  try {
    const times: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      const t0 = performance.now();
      const answer = await c.request(`{"jsonrpc":"2.0","id":${i},"method":"daemon.hello"}`);
      times.push(performance.now() - t0);
      expect(answer.result, `daemon.hello answered: ${JSON.stringify(answer)}`).toBeDefined();
    }
    return Math.max(...times);
  } finally {
    c.close();
  }
}

/** Samples a process's RSS every 10 ms; `peak()` is the highest seen. */
function rssSampler(pid: number): { peak(): number; stop(): void } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {}
  }, 10);
  return { peak: () => peak, stop: () => clearInterval(timer) };
}

function closed(s: net.Socket): Promise<void> {
  return s.destroyed ? Promise.resolve() : new Promise((resolve) => s.once("close", () => resolve()));
}

describe("bounded output", () => {
  it("10 log followers that never read hold at most the total cap, not 64 MiB each", async () => {
    const srv = await spawnServer();
    await maxRoundTripMs(srv.socket); // warm up before the baseline
    const before = (await srv.stats()).rss;
    const rss = rssSampler(srv.pid);
    try {
      const followers = await Promise.all(Array.from({ length: 10 }, () => rawSocket(srv.socket)));
      for (const s of followers) {
        s.pause();
        // 69 MiB of log lines each: a follower far behind that never reads.
        s.write('{"jsonrpc":"2.0","id":1,"method":"test.notify","params":{"count":1100,"size":65536}}\n');
      }
      const latency = await maxRoundTripMs(srv.socket);
      await until(
        async () => (await srv.stats("not reading")).warnings >= 10,
        30_000,
        "every follower to be cut off",
      );
      const after = await srv.stats();
      const growth = rss.peak() - before;
      const heldPeak = after.held?.outboundPeakBytes ?? Number.NaN;
      report("log followers not reading", {
        rss_growth_peak: mib(growth),
        held_peak: mib(heldPeak),
        hello_max_ms: latency.toFixed(1),
      });
      expect(latency, `daemon.hello round trip during the attack: ${latency.toFixed(1)} ms`).toBeLessThan(
        ROUND_TRIP_BOUND_MS,
      );
      expect(growth, `server RSS grew by ${mib(growth)} at the peak`).toBeLessThan(160 * MiB);
      expect(heldPeak, `unsent output held at the peak: ${mib(heldPeak)}`).toBeLessThanOrEqual(64 * MiB);
    } finally {
      rss.stop();
    }
  }, 60_000);

  it("one answer over the per-connection cap, then another, reaches a client that reads", async () => {
    const srv = await spawnServer();
    const c = await RawConn.open(srv.socket);
    try {
      const size = 10 * MiB; // over the 8 MiB default cap, as runtime.logs with 10,000 long lines can be
      c.send(
        `{"jsonrpc":"2.0","id":1,"method":"test.huge","params":{"size":${size}}}\n{"jsonrpc":"2.0","id":2,"method":"daemon.hello"}\n`,
      );
      await until(() => c.lines.length >= 2 || c.closed, 30_000, "both answers");
      const answers = c.lines.map(
        (l) => JSON.parse(l) as { id?: number; result?: { blob?: string }; error?: unknown },
      );
      const cutOff = answers.find((a) => a.error !== undefined);
      report("big answer, reading client", {
        answer_bytes: mib(c.lines[0]?.length ?? 0),
        answers: answers.length,
        cut_off: cutOff !== undefined,
        closed_by_server: c.closed,
      });
      expect(cutOff, `cut off: ${JSON.stringify(cutOff)}`).toBeUndefined();
      expect(answers.map((a) => a.id)).toEqual([1, 2]);
      expect(answers[0]?.result?.blob?.length).toBe(size);
    } finally {
      c.close();
    }
  }, 60_000);

  it("a client that does not read is still cut off behind one big answer", async () => {
    const srv = await spawnServer();
    const s = await rawSocket(srv.socket);
    s.pause();
    // 10 MiB answer in flight, then 9 MiB of log lines queued behind it: over the 8 MiB cap.
    s.write(
      '{"jsonrpc":"2.0","id":1,"method":"test.huge","params":{"size":10485760}}\n{"jsonrpc":"2.0","id":2,"method":"test.notify","params":{"count":144,"size":65536}}\n',
    );
    await until(async () => (await srv.stats("not reading")).warnings >= 1, 30_000, "the cut-off");
    const held = (await srv.stats()).held;
    report("big answer, client not reading", { cut_off: true, held_after: mib(held?.outboundBytes ?? 0) });
    expect(held?.outboundBytes ?? 0).toBe(0);
  }, 60_000);

  it("cuts off the connection holding the most when all together pass the total cap", async () => {
    const srv = await spawnServer({ maxOutboundBytes: 8 * MiB, maxTotalOutboundBytes: 16 * MiB });
    const peers = await Promise.all(Array.from({ length: 5 }, () => rawSocket(srv.socket)));
    for (const s of peers) {
      s.pause();
      // 6 MiB each: under the per-connection cap, 30 MiB together.
      s.write('{"jsonrpc":"2.0","id":1,"method":"test.notify","params":{"count":96,"size":65536}}\n');
    }
    const latency = await maxRoundTripMs(srv.socket);
    const cut = await until(
      async () => {
        const s = await srv.stats("server-wide output cap");
        return s.warnings >= 1 ? s : undefined;
      },
      10_000,
      "a connection to be cut off at the total cap",
    );
    const held = cut.held?.outboundBytes ?? Number.NaN;
    report("total output cap", {
      cut_off: cut.warnings,
      held_after: mib(held),
      hello_max_ms: latency.toFixed(1),
    });
    expect(latency).toBeLessThan(ROUND_TRIP_BOUND_MS);
    expect(held, `unsent output after the cut: ${mib(held)}`).toBeLessThanOrEqual(16 * MiB);
    expect(cut.held?.outboundPeakBytes).toBeLessThanOrEqual(16 * MiB);
    // A peer cut off that reads again gets what its socket already held, then one line saying why.
    const tails = peers.map(() => "");
    const ended = peers.map(
      (s, i) =>
        new Promise<void>((resolve) => {
          s.setEncoding("utf8");
          s.on("data", (d: string) => {
            tails[i] = (tails[i]! + d).slice(-4096);
          });
          s.once("end", () => resolve());
        }),
    );
    for (const s of peers) s.resume();
    const first = await Promise.race(ended.map((p, i) => p.then(() => i)));
    const last = JSON.parse(tails[first]!.trimEnd().split("\n").pop()!);
    expect(last).toMatchObject({
      id: null,
      error: { code: -32600, data: { code: "OUTPUT_BACKLOG", limit: 16 * MiB } },
    });
    expect(last.error.message).toMatch(
      /^connection cut off: \d+ bytes of answers unread, the most of any connection/,
    );
  }, 60_000);
});

describe("bounded input", () => {
  it("closes 200 connections that each leave a 1 MiB line unfinished, with LINE_TIMEOUT", async () => {
    const srv = await spawnServer({ partialLineTimeoutMs: 5000 });
    await maxRoundTripMs(srv.socket);
    const before = (await srv.stats()).rss;
    const rss = rssSampler(srv.pid);
    const line = Buffer.alloc(1024 * 1024 - 1024, 0x20);
    const peers = await Promise.all(Array.from({ length: 200 }, () => rawSocket(srv.socket)));
    const received = peers.map(() => [] as Buffer[]);
    peers.forEach((s, i) => {
      s.on("data", (d: Buffer) => received[i]!.push(d));
      s.write(line);
    });
    try {
      await until(() => peers.every((s) => s.writableLength === 0), 20_000, "the half lines to be sent");
      const latency = await maxRoundTripMs(srv.socket);
      const during = await srv.stats();
      const outcome = await Promise.race([
        Promise.all(peers.map(closed)).then(() => "closed"),
        new Promise((resolve) => setTimeout(resolve, 20_000, "still open")).then(String),
      ]);
      const stillOpen = peers.filter((s) => !s.destroyed).length;
      const after = await srv.stats();
      report("unfinished lines", {
        held_during: mib(during.held?.inboundBytes ?? Number.NaN),
        rss_growth_peak: mib(rss.peak() - before),
        rss_growth_after: mib(after.rss - before),
        still_open_after_20s: stillOpen,
        hello_max_ms: latency.toFixed(1),
      });
      expect(latency, `daemon.hello round trip during the attack: ${latency.toFixed(1)} ms`).toBeLessThan(
        ROUND_TRIP_BOUND_MS,
      );
      expect(outcome, `connections still holding a partial line after 20 s: ${stillOpen}/200`).toBe("closed");
      expect(after.held?.inboundBytes).toBe(0);
    } finally {
      rss.stop();
    }
    for (const chunks of received) {
      const a = JSON.parse(Buffer.concat(chunks).toString("utf8").trim());
      expect(a.error).toMatchObject({ code: -32600, data: { code: "LINE_TIMEOUT", limit: 5000 } });
      expect(a.error.message).toMatch(/^incomplete line: \d+ bytes received without a newline within 5 s/);
    }
  }, 60_000);
});

describe("bounded work per message", () => {
  it("runs at most 100 calls of a batch and answers each of the rest with BATCH_TOO_LARGE", async () => {
    const srv = await spawnServer();
    const calls: string[] = [];
    let bytes = 2;
    for (let i = 0; bytes < 1024 * 1024 - 64; i += 1) {
      const call = `{"jsonrpc":"2.0","id":${i},"method":"test.big"}`;
      calls.push(call);
      bytes += call.length + 1;
    }
    const batch = `[${calls.join(",")}]\n`;
    await maxRoundTripMs(srv.socket);
    const c = await rawSocket(srv.socket);
    const chunks: Buffer[] = [];
    const answered = new Promise<void>((resolve) =>
      c.on("data", (d: Buffer) => {
        chunks.push(d);
        if (d[d.length - 1] === 0x0a) resolve();
      }),
    );
    c.write(batch);
    const latency = await maxRoundTripMs(srv.socket);
    await answered;
    const text = Buffer.concat(chunks).toString("utf8");
    const answerBytes = Buffer.byteLength(text);
    const answers = JSON.parse(text) as Array<{
      id: number;
      result?: unknown;
      error?: { code: number; data?: { code?: string; limit?: number }; message: string };
    }>;
    report("large batch", {
      calls: calls.length,
      answer: mib(answerBytes),
      hello_max_ms: latency.toFixed(1),
    });
    expect(latency).toBeLessThan(ROUND_TRIP_BOUND_MS);
    expect(answers).toHaveLength(calls.length);
    expect(answers.filter((a) => a.result !== undefined)).toHaveLength(100);
    const refused = answers.filter((a) => a.error?.data?.code === "BATCH_TOO_LARGE");
    expect(refused).toHaveLength(calls.length - 100);
    expect(refused[0]).toMatchObject({ id: 100, error: { code: -32600, data: { limit: 100 } } });
    expect(refused[0]!.error!.message).toBe("batch over the limit of 100 calls; not run");
    expect(answerBytes, `answer to a ${calls.length}-call batch: ${mib(answerBytes)}`).toBeLessThan(4 * MiB);
  }, 60_000);

  it("refuses a message nested deeper than 64 levels before parsing it", async () => {
    const srv = await spawnServer();
    const depth = 200_000;
    const content = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const c = await RawConn.open(srv.socket);
    c.send(`{"jsonrpc":"2.0","id":7,"method":"test.deep","params":{"content":${content}}}\n`);
    const latency = await maxRoundTripMs(srv.socket);
    const answer = await c.nth(1, 10_000);
    const error = answer.error as { code: number; message: string; data?: unknown };
    report("deep nesting", {
      depth,
      code: error?.code,
      message: error?.message,
      hello_max_ms: latency.toFixed(1),
    });
    expect(latency).toBeLessThan(ROUND_TRIP_BOUND_MS);
    expect(error).toMatchObject({ code: -32600, data: { code: "JSON_TOO_DEEP", limit: 64 } });
    expect(error.message).toContain("deeper than the limit of 64 levels");
    // 64 levels in all (the request object and params count) is still served.
    const ok = `${"[".repeat(61)}${"]".repeat(61)}`;
    const served = await c.request(
      `{"jsonrpc":"2.0","id":8,"method":"test.deep","params":{"content":${ok}}}`,
    );
    expect(served.result).toEqual({ bytes: 122 });
    c.close();
  }, 30_000);
});
