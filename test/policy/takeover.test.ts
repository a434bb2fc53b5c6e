/** The pure parts of a transactional reload: the takeover path from the memory figures, and the backend lines a failure reports. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidateLogsDir } from "../../daemon/policy/candidate.js";
import { InFlightRequests } from "../../daemon/policy/in-flight.js";
import {
  BACKEND_LINE_CHARS,
  BACKEND_LINES,
  backendErrorLines,
  chooseTakeover,
} from "../../daemon/policy/takeover.js";

const bytes = fc.integer({ min: 0, max: 2 ** 40 });

describe("chooseTakeover", () => {
  it("on CPU: beside exactly when the new need fits the free memory", () => {
    fc.assert(
      fc.property(bytes, bytes, (need, free) => {
        const c = chooseTakeover({
          newNeedBytes: need,
          oldNeedBytes: undefined,
          target: { kind: "cpu", free_bytes: free },
        });
        expect(c.path).toBe(need <= free ? "beside" : "replace");
        expect(c.reason).toMatch(/MiB/);
      }),
    );
  });

  it("on a shared GPU: beside exactly when both needs fit its VRAM; anything unknown replaces", () => {
    fc.assert(
      fc.property(
        fc.option(bytes, { nil: undefined }),
        fc.option(bytes, { nil: undefined }),
        fc.option(bytes, { nil: undefined }),
        (need, old, vram) => {
          const c = chooseTakeover({
            newNeedBytes: need,
            oldNeedBytes: old,
            target: { kind: "gpu", vram_bytes: vram, shared: true },
          });
          const beside = need !== undefined && old !== undefined && vram !== undefined && need + old <= vram;
          expect(c.path).toBe(beside ? "beside" : "replace");
        },
      ),
    );
  });

  it("on another GPU the old process's memory does not count", () => {
    const c = chooseTakeover({
      newNeedBytes: 10,
      oldNeedBytes: 100,
      target: { kind: "gpu", vram_bytes: 50, shared: false },
    });
    expect(c.path).toBe("beside");
  });
});

describe("backendErrorLines", () => {
  it("keeps the last non-empty backend lines, at most 5 of at most 300 chars, without control characters or rmxd markers", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 400 }), { maxLength: 30 }), (log) => {
        const lines = backendErrorLines(log);
        expect(lines.length).toBeLessThanOrEqual(BACKEND_LINES);
        for (const l of lines) {
          expect(l.length).toBeGreaterThan(0);
          expect(l.length).toBeLessThanOrEqual(BACKEND_LINE_CHARS);
          expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
          expect(l.startsWith("--- rmxd:")).toBe(false);
        }
      }),
    );
  });

  it("reads llama.cpp's refusal in order, escape sequences gone", () => {
    const lines = backendErrorLines([
      "build: 4748",
      "--- rmxd: starting llama-server -m x.gguf",
      "llama_model_load: error loading model: key not found in model: llama.attention.layer_norm_rms_epsilon",
      "",
      "\u001b[31mmain: exiting due to model loading error\u001b[0m\r",
      "--- rmxd: process 42 ended (exit code 1)",
    ]);
    expect(lines).toEqual([
      "build: 4748",
      "llama_model_load: error loading model: key not found in model: llama.attention.layer_norm_rms_epsilon",
      "main: exiting due to model loading error",
    ]);
  });
});

describe("InFlightRequests", () => {
  it("drained waits for the requests open when asked, not for later ones", async () => {
    const f = new InFlightRequests();
    const endA = f.begin("rt");
    const drained = f.drained("rt", 10_000);
    const endB = f.begin("rt"); // begun after: does not hold the drain up
    let done = false;
    void drained.then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    endA();
    expect(await drained).toBe(true);
    expect(f.count("rt")).toBe(1);
    endB();
    endB(); // once only
    expect(f.count("rt")).toBe(0);
    expect(await f.drained("rt", 10_000)).toBe(true);
  });

  it("gives up after its bound", async () => {
    const f = new InFlightRequests();
    f.begin("rt");
    expect(await f.drained("rt", 5)).toBe(false);
  });
});

describe("candidateLogsDir", () => {
  it("alternates between the logs dir and logs/reload, never the serving process's file", () => {
    expect(candidateLogsDir("/s/logs", "/s/logs/rt.log")).toBe("/s/logs/reload");
    expect(candidateLogsDir("/s/logs", "/s/logs/reload/rt.log")).toBe("/s/logs");
  });
});
