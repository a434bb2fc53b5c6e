import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { isRmxError } from "../../base/errors.js";
import { matchPin, PinStore, parsePinPattern, pinScopeKey } from "../../daemon/policy/pins.js";
import type { PinRecord } from "../../ipc/protocol/policy.js";

function parseError(s: string): string {
  try {
    parsePinPattern(s);
  } catch (error) {
    expect(isRmxError(error, "CONFIG_INVALID")).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`expected "${s}" to be rejected`);
}

describe("parsePinPattern", () => {
  it("parses full, partial and remote patterns, defaulting missing parts to *", () => {
    expect(parsePinPattern("llama-8b@gpu:0/none")).toEqual({
      kind: "local",
      source: "llama-8b@gpu:0/none",
      model: "llama-8b",
      hardware: "gpu:0",
      sandbox: "none",
    });
    expect(parsePinPattern("llama-8b").source).toBe("llama-8b@*/*");
    expect(parsePinPattern("llama-8b@cpu").source).toBe("llama-8b@cpu/*");
    expect(parsePinPattern(" *@gpu:*/* ").source).toBe("*@gpu:*/*");
    expect(parsePinPattern("org/model-q4@cpu/bwrap")).toMatchObject({
      model: "org/model-q4",
      sandbox: "bwrap",
    });
    expect(parsePinPattern("remote:gpt-4o")).toEqual({
      kind: "remote",
      source: "remote:gpt-4o",
      model: "gpt-4o",
    });
    expect(parsePinPattern("remote:*")).toMatchObject({ kind: "remote", model: "*" });
  });

  it("rejects malformed patterns with a message naming the pattern and the problem", () => {
    expect(parseError("")).toContain("empty pattern");
    expect(parseError("@cpu/none")).toContain('"@cpu/none": the model part is empty');
    expect(parseError("llama@")).toContain("hardware part is empty");
    expect(parseError("llama@cpu/")).toContain("sandbox part is empty");
    expect(parseError("llama@tpu:0")).toContain('unknown hardware "tpu:0"');
    expect(parseError("llama@gpu/none")).toContain('unknown hardware "gpu"');
    expect(parseError("llama@cpu/docker")).toContain('unknown sandbox "docker"');
    expect(parseError("a@b@cpu")).toContain("more than one '@'");
    expect(parseError("llama@cpu/none/x")).toContain("more than one '/'");
    expect(parseError("my model@cpu")).toContain("whitespace");
    expect(parseError("remote:")).toContain("model after remote: is empty");
    expect(parseError("remote:gpt@cpu")).toContain("remote patterns name only a model");
  });
});

describe("matchPin", () => {
  const cell = { model: "llama-8b", hardware: "gpu:0", sandbox: "none" };
  it("matches globs per part", () => {
    expect(matchPin(parsePinPattern("llama-8b@gpu:0/none"), cell)).toBe(true);
    expect(matchPin(parsePinPattern("llama-8b"), cell)).toBe(true);
    expect(matchPin(parsePinPattern("*@gpu:*/*"), cell)).toBe(true);
    expect(matchPin(parsePinPattern("llama-*@*/none"), cell)).toBe(true);
    expect(matchPin(parsePinPattern("llama-8b@cpu/*"), cell)).toBe(false);
    expect(matchPin(parsePinPattern("llama-8b@gpu:1"), cell)).toBe(false);
    expect(matchPin(parsePinPattern("llama-8b@*/bwrap"), cell)).toBe(false);
    expect(matchPin(parsePinPattern("llama"), cell)).toBe(false);
    // Glob characters other than * are literal.
    expect(matchPin(parsePinPattern("llama.8b"), cell)).toBe(false);
  });

  it("keeps local and remote apart", () => {
    const remote = { model: "gpt-4o", hardware: "remote", sandbox: "none" };
    expect(matchPin(parsePinPattern("*"), remote)).toBe(false);
    expect(matchPin(parsePinPattern("remote:*"), remote)).toBe(true);
    expect(matchPin(parsePinPattern("remote:gpt-*"), remote)).toBe(true);
    expect(matchPin(parsePinPattern("remote:llama-8b"), remote)).toBe(false);
    expect(matchPin(parsePinPattern("remote:*"), cell)).toBe(false);
    expect(matchPin(parsePinPattern("remote:*"), { ...cell, remote: true })).toBe(true);
  });

  it("property: a normalised pattern matches exactly what its source matched, and `*` parts match anything", () => {
    const word = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,8}$/);
    const hw = fc.oneof(
      fc.constant("cpu"),
      fc.nat(7).map((n) => `gpu:${n}`),
    );
    const sb = fc.constantFrom("none", "bwrap", "systemd-run");
    fc.assert(
      fc.property(word, hw, sb, word, (model, hardware, sandbox, other) => {
        const target = { model, hardware, sandbox };
        expect(matchPin(parsePinPattern(`${model}@${hardware}/${sandbox}`), target)).toBe(true);
        expect(matchPin(parsePinPattern(model), target)).toBe(true);
        expect(matchPin(parsePinPattern("*"), target)).toBe(true);
        const p = parsePinPattern(`${model}@${hardware}`);
        expect(matchPin(parsePinPattern(p.source), target)).toBe(matchPin(p, target));
        expect(matchPin(parsePinPattern(`${other}@${hardware}/${sandbox}`), target)).toBe(other === model);
      }),
    );
  });
});

describe("PinStore", () => {
  it("sets, looks up with agent > project > default precedence, lists, clears and persists each change", async () => {
    const writes: PinRecord[][] = [];
    const clock = new ManualClock(Date.parse("2026-03-01T10:00:00.000Z"));
    const store = new PinStore([], async (all) => void writes.push(all), clock);
    await store.set({}, ["llama-8b"]);
    await store.set({ project: "web" }, ["qwen@gpu:0/none"]);
    const agent = await store.set({ agent: "coder" }, [
      "llama-8b@gpu:0/bwrap",
      "llama-8b@cpu",
      "llama-8b@cpu/*",
    ]);
    expect(agent).toEqual({
      scope: "agent:coder",
      agent: "coder",
      patterns: ["llama-8b@gpu:0/bwrap", "llama-8b@cpu/*"],
      set_at: "2026-03-01T10:00:00.000Z",
    });
    expect(store.lookup({ agent: "coder", project: "web" })?.scope).toBe("agent:coder");
    expect(store.lookup({ agent: "other", project: "web" })?.scope).toBe("project:web");
    expect(store.lookup({ agent: "other" })?.scope).toBe("*");
    expect(store.lookup({ agent: "*" })?.scope).toBe("*");
    await store.set({ agent: "coder", project: "web" }, ["remote:*"]);
    expect(store.lookup({ agent: "coder", project: "web" })?.scope).toBe("agent:coder/project:web");
    expect(store.list().map((r) => r.scope)).toEqual([
      "*",
      "agent:coder",
      "agent:coder/project:web",
      "project:web",
    ]);
    expect(writes).toHaveLength(4);
    expect(writes[3]).toEqual(store.list());

    expect(await store.clear({ agent: "coder" })).toBe(true);
    expect(await store.clear({ agent: "coder" })).toBe(false);
    expect(writes).toHaveLength(5);
    expect(store.lookup({ agent: "coder" })?.scope).toBe("*");

    // A store rebuilt from what was persisted is the same store.
    const again = new PinStore(writes[4]!, async () => {});
    expect(again.list()).toEqual(store.list());
  });

  it("rejects bad input without persisting and keeps the old state when persisting fails", async () => {
    let fail = false;
    const store = new PinStore([], async () => {
      if (fail) throw new Error("disk full");
    });
    await expect(store.set({ agent: "a" }, [])).rejects.toThrow(
      'pin for scope "agent:a": at least one pattern',
    );
    await expect(store.set({ agent: "a" }, ["x@tpu"])).rejects.toThrow('pin pattern "x@tpu"');
    await expect(store.set({ agent: "a b" }, ["x"])).rejects.toThrow('pin agent "a b"');
    await store.set({ agent: "a" }, ["x"]);
    fail = true;
    await expect(store.set({ agent: "a" }, ["y"])).rejects.toThrow("disk full");
    expect(store.lookup({ agent: "a" })?.patterns).toEqual(["x@*/*"]);
    await expect(store.clear({ agent: "a" })).rejects.toThrow("disk full");
    expect(store.lookup({ agent: "a" })).toBeDefined();
  });

  it("refuses a corrupt stored record with STATE_CORRUPT, naming its scope", () => {
    let caught: unknown;
    try {
      new PinStore([{ scope: "agent:a", agent: "a", patterns: ["x@tpu"], set_at: "x" }], async () => {});
    } catch (error) {
      caught = error;
    }
    expect(isRmxError(caught, "STATE_CORRUPT")).toBe(true);
    expect((caught as Error).message).toBe(
      'stored pin for scope "agent:a": pin pattern "x@tpu": unknown hardware "tpu" (expected cpu, gpu:N, gpu:* or *)',
    );
  });

  it("scope keys are stable", () => {
    expect(pinScopeKey({})).toBe("*");
    expect(pinScopeKey({ agent: " coder " })).toBe("agent:coder");
    expect(pinScopeKey({ project: "web", agent: "coder" })).toBe("agent:coder/project:web");
  });
});
