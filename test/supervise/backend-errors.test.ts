import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backendErrorLines,
  MAX_ERROR_LINE_CHARS,
  MAX_ERROR_LINES,
} from "../../daemon/supervise/backend-errors.js";
import { initialMachine, type StepContext, step } from "../../daemon/supervise/state.js";

// lifecycle.json broken_models.unknown_architecture, stderr (abridged), after our spawn marker.
const B4748_UNKNOWN_ARCH = [
  "--- rmxd: process 1 ended (exit code 3)",
  "--- rmxd: starting llama-server -m x.gguf",
  "srv    load_model: loading model '<tmp>/unknown-arch.gguf'",
  "llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'llamb'",
  "llama_model_load_from_file_impl: failed to load model",
  "common_init_from_params: failed to load model '<tmp>/unknown-arch.gguf'",
  "srv    load_model: failed to load model, '<tmp>/unknown-arch.gguf'",
  "srv    operator(): operator(): cleaning up before exit...",
  "main: exiting due to model loading error",
  "terminate called without an active exception",
];

describe("backend error lines", () => {
  it("picks the cause before its consequences, from the last run only", () => {
    const { lines, matched } = backendErrorLines(B4748_UNKNOWN_ARCH);
    expect(matched).toBe(true);
    expect(lines).toEqual([
      "llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'llamb'",
      "llama_model_load_from_file_impl: failed to load model",
      "main: exiting due to model loading error",
    ]);
  });

  it("falls back to the last non-empty lines, unmatched", () => {
    expect(backendErrorLines(["a", "b", "", "c", "d"])).toEqual({ lines: ["b", "c", "d"], matched: false });
  });

  it("is bounded and free of control characters, whatever the log holds", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 1000 }), { maxLength: 100 }), (tail) => {
        const { lines } = backendErrorLines(tail);
        expect(lines.length).toBeLessThanOrEqual(MAX_ERROR_LINES);
        for (const l of lines) {
          expect(l.length).toBeLessThanOrEqual(MAX_ERROR_LINE_CHARS);
          expect(l).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f]/);
          expect(l.startsWith("--- rmxd: ")).toBe(false);
        }
      }),
    );
  });
});

describe("a start-up exit that repeats identically", () => {
  const ctx = (now: number): StepContext => ({
    now,
    budget: { max_restarts: 3, window_seconds: 600, retry_at_reset: true },
    backoff: { initial_ms: 100, max_ms: 1000, factor: 2, jitter: 0, reset_after_ms: 60_000 },
    failureThreshold: 3,
    random: () => 0.5,
  });
  const badFlag = {
    type: "exited" as const,
    code: 1,
    signal: null,
    errors: { lines: ["error: invalid argument: --no-such-flag"], matched: true },
  };

  it("is failed on the second time, with one restart spent and a retry at the horizon; a reconfigure clears it", () => {
    let m = step(initialMachine(), { type: "start" }, ctx(0)).machine;
    m = step(m, badFlag, ctx(10)).machine;
    expect(m.state).toBe("backoff");
    expect(m.reason).toBe(
      "exited during start-up (exit code 1): error: invalid argument: --no-such-flag; restarting in 100 ms",
    );
    m = step(m, { type: "retry_due" }, ctx(110)).machine;
    m = step(m, badFlag, ctx(120)).machine;
    expect(m.state).toBe("failed");
    expect(m.reason).toContain("will not fix itself: error: invalid argument: --no-such-flag");
    expect(m.budget.attempts).toEqual([110]);
    expect(m.nextRetryAt).toBe(110 + 600_000);
    const r = step(m, { type: "reconfigure" }, ctx(200));
    expect(r.machine.state).toBe("starting");
    expect(r.machine.startupExit).toBeUndefined();
  });

  it("a different error the second time is not a configuration error", () => {
    let m = step(initialMachine(), { type: "start" }, ctx(0)).machine;
    m = step(m, badFlag, ctx(10)).machine;
    m = step(m, { type: "retry_due" }, ctx(110)).machine;
    m = step(m, { ...badFlag, errors: { lines: ["error: out of memory"], matched: true } }, ctx(120)).machine;
    expect(m.state).toBe("backoff");
  });
});
