import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SandboxKind } from "../../base/spec.js";
import { matchPin, parsePinPattern } from "../../daemon/policy/pins.js";
import type { Candidate, PolicySwitches, Resolution, ResolveRequest } from "../../daemon/policy/resolve.js";
import { CHECK_ORDER, resolveCell } from "../../daemon/policy/resolve.js";
import type { PassReason, PinRecord } from "../../ipc/protocol/policy.js";
import { makeCandidate, makeCell } from "./fixtures.js";

const open: PolicySwitches = { allow_fallback: true, allow_remote: true, allow_cpu: true };
const pin = (...patterns: string[]): PinRecord => ({
  scope: "*",
  patterns,
  set_at: "2026-01-01T00:00:00.000Z",
});
const reasonOf = (r: Resolution, cell: string) => r.passed_over.find((p) => p.cell === cell);

const gpu0 = makeCandidate(makeCell("llama-8b", "gpu:0", "none"), { p95_ms: 900, parameter_count: 8e9 });
const gpu1 = makeCandidate(makeCell("llama-8b", "gpu:1", "bwrap"), { p95_ms: 700, parameter_count: 8e9 });
const cpu = makeCandidate(makeCell("qwen-1b", "cpu", "none"), { p95_ms: 300, parameter_count: 1e9 });
const big = makeCandidate(makeCell("llama-70b", "gpu:0", "none"), { p95_ms: 4000, parameter_count: 70e9 });
const remote = makeCandidate(makeCell("gpt-4o", "remote", "none"), { remote: true, p95_ms: 1200 });

describe("resolveCell: balanced", () => {
  it("without pins ranks local GPU, then CPU, then remote, then by key", () => {
    const r = resolveCell({}, [remote, cpu, gpu1, big, gpu0], undefined, open);
    expect(r.mode).toBe("balanced");
    expect(r.ranked.map((x) => x.cell)).toEqual([
      "llama-70b@gpu:0/none",
      "llama-8b@gpu:0/none",
      "llama-8b@gpu:1/bwrap",
      "qwen-1b@cpu/none",
      "gpt-4o@remote/none",
    ]);
    expect(r.chosen).toEqual({ cell: "llama-70b@gpu:0/none", runtime: "rt-llama-70b@gpu:0/none" });
    expect(r.fallback).toBe(false);
    expect(r.pin).toBeUndefined();
    expect(r.preferred).toBeUndefined();
    expect(r.passed_over).toEqual([]);
  });

  it("follows pin order, then the rest; falls back past an unhealthy first pin", () => {
    const pins = pin("qwen-1b@cpu", "llama-8b@gpu:1/*");
    const r = resolveCell({}, [gpu0, gpu1, cpu], pins, open);
    expect(r.ranked.map((x) => x.cell)).toEqual([
      "qwen-1b@cpu/none",
      "llama-8b@gpu:1/bwrap",
      "llama-8b@gpu:0/none",
    ]);
    expect(r.pin).toEqual(["qwen-1b@cpu/*", "llama-8b@gpu:1/*"]);
    expect(r.preferred?.cell).toBe("qwen-1b@cpu/none");
    expect(r.fallback).toBe(false);

    const down = { ...cpu, healthy: false, state: "backoff" as const };
    const f = resolveCell({}, [gpu0, gpu1, down], pins, open);
    expect(f.chosen?.cell).toBe("llama-8b@gpu:1/bwrap");
    expect(f.fallback).toBe(true);
    expect(f.preferred?.cell).toBe("qwen-1b@cpu/none");
    expect(reasonOf(f, "qwen-1b@cpu/none")).toMatchObject({ why: "unhealthy" });
    expect(reasonOf(f, "qwen-1b@cpu/none")?.detail).toContain("state backoff");
  });

  it("with allow_fallback off serves only the first allowed pin", () => {
    const pins = pin("remote:*", "llama-8b@gpu:*", "qwen-1b");
    const policy = { ...open, allow_fallback: false, allow_remote: false };
    const r = resolveCell({}, [gpu0, gpu1, cpu, remote, big], pins, policy);
    // remote:* is not allowed (allow_remote off), so llama-8b@gpu:* is the first allowed pin.
    expect(r.chosen?.cell).toBe("llama-8b@gpu:0/none");
    expect(r.preferred?.cell).toBe("llama-8b@gpu:0/none");
    expect(r.fallback).toBe(false);
    expect(reasonOf(r, "gpt-4o@remote/none")?.why).toBe("remote_not_allowed");
    expect(reasonOf(r, "qwen-1b@cpu/none")?.why).toBe("fallback_not_allowed");
    expect(reasonOf(r, "llama-70b@gpu:0/none")?.why).toBe("not_pinned");
    expect(reasonOf(r, "llama-70b@gpu:0/none")?.detail).toContain("matches none of the pins");

    // Both gpu cells match the first pin; losing one is not a fallback.
    const r2 = resolveCell({}, [{ ...gpu0, healthy: false }, gpu1, cpu], pins, policy);
    expect(r2.chosen?.cell).toBe("llama-8b@gpu:1/bwrap");
    expect(r2.fallback).toBe(false);

    const none = resolveCell(
      {},
      [{ ...gpu0, healthy: false }, { ...gpu1, state: "exhausted" }, cpu],
      pins,
      policy,
    );
    expect(none.chosen).toBeUndefined();
    expect(none.ranked).toEqual([]);
    expect(none.passed_over.map((p) => p.why).sort()).toEqual([
      "exhausted",
      "fallback_not_allowed",
      "unhealthy",
    ]);
  });
});

describe("resolveCell: modes", () => {
  const all = [gpu0, gpu1, cpu, big, remote];
  it("quick picks the lowest p95, unknown p95 last", () => {
    expect(resolveCell({ mode: "quick" }, all, undefined, open).chosen?.cell).toBe("qwen-1b@cpu/none");
    const unknown = { ...cpu, p95_ms: undefined };
    const r = resolveCell({ mode: "quick" }, [unknown, big], undefined, open);
    expect(r.ranked.map((x) => x.cell)).toEqual(["llama-70b@gpu:0/none", "qwen-1b@cpu/none"]);
  });

  it("deep picks the largest parameter count, unknown last", () => {
    const bigCpu = makeCandidate(makeCell("llama-70b", "cpu", "none"), { parameter_count: 70e9 });
    const r = resolveCell({ mode: "deep" }, [remote, gpu0, cpu, bigCpu], undefined, open);
    expect(resolveCell({}, [remote, gpu0, cpu, bigCpu], undefined, open).chosen?.cell).toBe(
      "llama-8b@gpu:0/none",
    );
    expect(r.chosen?.cell).toBe("llama-70b@cpu/none");
    expect(r.ranked.map((x) => x.cell)).toEqual([
      "llama-70b@cpu/none",
      "llama-8b@gpu:0/none",
      "qwen-1b@cpu/none",
      "gpt-4o@remote/none",
    ]);
  });

  it("verified returns two different models, or one with a note", () => {
    const r = resolveCell({ mode: "verified" }, [gpu0, gpu1, cpu], pin("llama-8b"), open);
    expect(r.chosen?.cell).toBe("llama-8b@gpu:0/none");
    expect(r.also?.cell).toBe("qwen-1b@cpu/none");
    const one = resolveCell({ mode: "verified" }, [gpu0, gpu1, { ...cpu, healthy: false }], undefined, open);
    expect(one.chosen?.cell).toBe("llama-8b@gpu:0/none");
    expect(one.also).toBeUndefined();
    expect(one.note).toContain("only llama-8b is eligible");
    expect(reasonOf(one, "qwen-1b@cpu/none")?.why).toBe("unhealthy");
  });

  it("slo_ms passes over cells whose p95 exceeds it; unknown p95 is not judged", () => {
    const r = resolveCell({ slo_ms: 1000 }, [big, gpu0, { ...gpu1, p95_ms: undefined }], undefined, open);
    expect(reasonOf(r, "llama-70b@gpu:0/none")).toMatchObject({ why: "over_slo" });
    expect(reasonOf(r, "llama-70b@gpu:0/none")?.detail).toBe("p95 4000 ms exceeds the 1000 ms SLO");
    expect(r.ranked.map((x) => x.cell)).toEqual(["llama-8b@gpu:0/none", "llama-8b@gpu:1/bwrap"]);
  });
});

describe("resolveCell: one reason per passed-over cell", () => {
  const cases: {
    name: PassReason;
    cand: Candidate;
    req?: ResolveRequest;
    policy?: Partial<PolicySwitches>;
  }[] = [
    { name: "model_mismatch", cand: gpu0, req: { model: "qwen-1b" } },
    { name: "remote_not_allowed", cand: remote, policy: { allow_remote: false } },
    { name: "cpu_not_allowed", cand: cpu, policy: { allow_cpu: false } },
    { name: "sandbox_required", cand: gpu0, policy: { required_sandbox: "bwrap" } },
    { name: "sandbox_unavailable", cand: { ...gpu1, capabilities: ["gpu"] } },
    {
      name: "does_not_fit",
      cand: {
        ...gpu0,
        cell: { ...gpu0.cell, fit: { fits: false, reason: "needs 9.1 GiB, 8 GiB free on gpu:0" } },
      },
    },
    { name: "exhausted", cand: { ...gpu0, healthy: false, state: "exhausted" } },
    {
      name: "unhealthy",
      cand: { ...gpu0, cell: { ...gpu0.cell, available: false, unavailable_reason: "gpu:0 gone" } },
    },
    { name: "missing_capability", cand: cpu, req: { needs: ["gpu"] } },
    { name: "no_lease_capacity", cand: { ...gpu0, lease_free: 0 } },
    { name: "over_slo", cand: gpu0, req: { slo_ms: 500 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = resolveCell(c.req ?? {}, [c.cand], undefined, { ...open, ...c.policy });
      expect(r.chosen).toBeUndefined();
      expect(r.passed_over).toHaveLength(1);
      expect(r.passed_over[0]?.why).toBe(c.name);
      expect(r.passed_over[0]?.detail.length).toBeGreaterThan(5);
    });
  }

  it("reports the first failing check when several fail", () => {
    const bad = { ...cpu, healthy: false, lease_free: 0, p95_ms: 9999 };
    const r = resolveCell({ slo_ms: 10, needs: ["gpu"] }, [bad], undefined, { ...open, allow_cpu: false });
    expect(r.passed_over).toEqual([expect.objectContaining({ why: "cpu_not_allowed" })]);
  });
});

// ─── Properties ────────────────────────────────────────────────────────────────────────────────

const MODELS = ["llama-8b", "qwen-1b", "llama-70b"];
const HARDWARE = ["cpu", "gpu:0", "gpu:1", "remote"];
const SANDBOXES: SandboxKind[] = ["none", "bwrap", "systemd-run"];
const CAPS = ["gpu", "sandbox:bwrap", "sandbox:systemd-run", "fast"];
const PATTERNS = ["llama-8b", "*@gpu:*/*", "qwen-1b@cpu/none", "remote:*", "*@*/bwrap", "llama-70b@gpu:1"];

/** Mostly true: most generated candidates should be eligible so the rankings get exercised. */
const likely = fc.oneof(
  { arbitrary: fc.constant(true), weight: 6 },
  { arbitrary: fc.constant(false), weight: 1 },
);

/** Mostly absent. */
const sometimes = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });

const candidateArb = fc
  .record({
    model: fc.constantFrom(...MODELS),
    hardware: fc.constantFrom(...HARDWARE),
    sandbox: fc.constantFrom(...SANDBOXES),
    healthy: likely,
    available: likely,
    fits: fc.constantFrom<boolean | "unknown">(true, true, true, false, "unknown"),
    state: fc.constantFrom("ready", "ready", "ready", "degraded", "exhausted", "backoff", undefined),
    lease_free: fc.constantFrom(0, 1, 1, 2),
    caps: fc.oneof({ arbitrary: fc.constant(CAPS), weight: 3 }, { arbitrary: fc.subarray(CAPS), weight: 1 }),
    p95: fc.option(fc.integer({ min: 10, max: 5000 }), { nil: undefined }),
    params: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
  })
  .map((r) => {
    const cell = makeCell(
      r.model,
      r.hardware,
      r.hardware === "remote" ? "none" : (r.sandbox as SandboxKind),
      {
        available: r.available,
        fit: { fits: r.fits, reason: "test" },
      },
    );
    return makeCandidate(cell, {
      healthy: r.healthy,
      state: r.state as Candidate["state"],
      lease_free: r.lease_free,
      capabilities: r.caps,
      p95_ms: r.p95,
      parameter_count: r.params,
    });
  });

const inputArb = fc.record({
  cands: fc.array(candidateArb, { minLength: 1, maxLength: 8 }),
  pins: fc.option(fc.subarray(PATTERNS, { minLength: 1 }), { nil: undefined }),
  policy: fc.record({
    allow_fallback: fc.boolean(),
    allow_remote: likely,
    allow_cpu: likely,
    required_sandbox: sometimes(fc.constantFrom(...SANDBOXES)),
  }),
  req: fc.record({
    mode: fc.option(
      fc.constantFrom("quick", "balanced", "deep", "verified") as fc.Arbitrary<ResolveRequest["mode"]>,
      {
        nil: undefined,
      },
    ),
    model: sometimes(fc.constantFrom(...MODELS)),
    slo_ms: sometimes(fc.integer({ min: 10, max: 5000 })),
    needs: sometimes(fc.subarray(CAPS, { maxLength: 2 })),
  }),
});

/** An independent statement of each check: does `reason` apply to candidate c? */
function oracle(
  cands: Candidate[],
  pins: string[] | undefined,
  policy: PolicySwitches,
  req: ResolveRequest,
): {
  fails: (reason: PassReason, c: Candidate) => boolean;
  pinIndex: (c: Candidate) => number;
  firstAllowed?: number;
} {
  const patterns = (pins ?? []).map(parsePinPattern);
  const pinIndex = (c: Candidate) =>
    patterns.findIndex((p) =>
      matchPin(p, {
        model: c.cell.model,
        hardware: c.cell.hardware,
        sandbox: c.cell.sandbox,
        remote: c.remote,
      }),
    );
  const staticOk = (c: Candidate) =>
    (req.model === undefined || c.cell.model === req.model) &&
    (policy.allow_remote || !c.remote) &&
    (policy.allow_cpu || c.remote || c.cell.hardware !== "cpu") &&
    (policy.required_sandbox === undefined || c.cell.sandbox === policy.required_sandbox);
  const allowed = cands.filter((c) => staticOk(c) && pinIndex(c) >= 0).map(pinIndex);
  const firstAllowed = allowed.length > 0 ? Math.min(...allowed) : undefined;
  const strict = patterns.length > 0 && !policy.allow_fallback;
  const fails = (reason: PassReason, c: Candidate): boolean => {
    switch (reason) {
      case "model_mismatch":
        return req.model !== undefined && c.cell.model !== req.model;
      case "remote_not_allowed":
        return c.remote && !policy.allow_remote;
      case "cpu_not_allowed":
        return !c.remote && c.cell.hardware === "cpu" && !policy.allow_cpu;
      case "sandbox_required":
        return policy.required_sandbox !== undefined && c.cell.sandbox !== policy.required_sandbox;
      case "not_pinned":
        return strict && pinIndex(c) < 0;
      case "fallback_not_allowed":
        return strict && pinIndex(c) >= 0 && pinIndex(c) !== firstAllowed;
      case "sandbox_unavailable":
        return c.cell.sandbox !== "none" && !c.capabilities.includes(`sandbox:${c.cell.sandbox}`);
      case "does_not_fit":
        return c.cell.fit.fits === false;
      case "exhausted":
        return c.state === "exhausted";
      case "unhealthy":
        return !c.healthy || !c.cell.available;
      case "missing_capability":
        return (req.needs ?? []).some((n) => !c.capabilities.includes(n));
      case "no_lease_capacity":
        return c.lease_free <= 0;
      case "over_slo":
        return req.slo_ms !== undefined && c.p95_ms !== undefined && c.p95_ms > req.slo_ms;
    }
  };
  return firstAllowed === undefined ? { fails, pinIndex } : { fails, pinIndex, firstAllowed };
}

describe("resolveCell: properties", () => {
  it("every candidate is either ranked or passed over with exactly its first failing check", () => {
    fc.assert(
      fc.property(inputArb, ({ cands, pins, policy, req }) => {
        const withIds = cands.map((c, i) => ({ ...c, runtimeId: `rt${i}` }));
        const r = resolveCell(req, withIds, pins === undefined ? undefined : pin(...pins), policy);
        const o = oracle(withIds, pins, policy, req);
        const byId = new Map(withIds.map((c) => [c.runtimeId, c]));
        const seen = [...r.ranked, ...r.passed_over].map((x) => x.runtime);
        expect([...seen].sort()).toEqual(withIds.map((c) => c.runtimeId).sort());
        for (const p of r.passed_over) {
          const c = byId.get(p.runtime!)!;
          expect(o.fails(p.why, c)).toBe(true);
          for (const earlier of CHECK_ORDER.slice(0, CHECK_ORDER.indexOf(p.why)))
            expect(o.fails(earlier, c)).toBe(false);
        }
        for (const x of r.ranked) {
          const c = byId.get(x.runtime!)!;
          for (const reason of CHECK_ORDER) expect(o.fails(reason, c)).toBe(false);
        }
        expect(r.chosen).toEqual(r.ranked[0]);
        if (r.chosen) expect(r.passed_over.some((p) => p.runtime === r.chosen?.runtime)).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it("the chosen cell satisfies every switch and each mode's ranking", () => {
    let contested = 0;
    fc.assert(
      fc.property(inputArb, ({ cands, pins, policy, req }) => {
        const withIds = cands.map((c, i) => ({ ...c, runtimeId: `rt${i}` }));
        const r = resolveCell(req, withIds, pins === undefined ? undefined : pin(...pins), policy);
        const o = oracle(withIds, pins, policy, req);
        const byId = new Map(withIds.map((c) => [c.runtimeId, c]));
        const ranked = r.ranked.map((x) => byId.get(x.runtime!)!);
        const chosen = ranked[0];
        if (chosen === undefined) return;
        if (ranked.length >= 2) contested += 1;
        if (!policy.allow_remote) expect(chosen.remote).toBe(false);
        if (!policy.allow_cpu) expect(chosen.cell.hardware).not.toBe("cpu");
        if (policy.required_sandbox) expect(chosen.cell.sandbox).toBe(policy.required_sandbox);
        if (req.model) expect(chosen.cell.model).toBe(req.model);
        if (pins !== undefined && !policy.allow_fallback) {
          expect(r.fallback).toBe(false);
          expect(o.pinIndex(chosen)).toBe(o.firstAllowed);
        }
        expect(r.fallback).toBe(pins !== undefined && o.pinIndex(chosen) !== o.firstAllowed);
        const mode = req.mode ?? "balanced";
        const rank = (c: Candidate) => (o.pinIndex(c) < 0 ? Number.POSITIVE_INFINITY : o.pinIndex(c));
        if (mode === "balanced" || mode === "verified") {
          for (let i = 1; i < ranked.length; i++)
            expect(rank(ranked[i - 1]!)).toBeLessThanOrEqual(rank(ranked[i]!));
        }
        if (mode === "quick") {
          const p95 = (c: Candidate) => c.p95_ms ?? Number.POSITIVE_INFINITY;
          for (const c of ranked) expect(p95(chosen)).toBeLessThanOrEqual(p95(c));
        }
        if (mode === "deep") {
          const params = (c: Candidate) => c.parameter_count ?? Number.NEGATIVE_INFINITY;
          for (const c of ranked) expect(params(chosen)).toBeGreaterThanOrEqual(params(c));
        }
        if (mode === "verified") {
          const models = new Set(ranked.map((c) => c.cell.model));
          if (models.size >= 2) {
            const also = byId.get(r.also!.runtime!)!;
            expect(also.cell.model).not.toBe(chosen.cell.model);
          } else {
            expect(r.also).toBeUndefined();
            expect(r.note).toBeDefined();
          }
        }
      }),
      { numRuns: 600 },
    );
    // The rankings were really exercised: many runs had a choice to make.
    expect(contested).toBeGreaterThan(50);
  });

  it("is deterministic: candidate input order does not change the answer", () => {
    fc.assert(
      fc.property(inputArb, fc.nat(), ({ cands, pins, policy, req }, seed) => {
        const withIds = cands.map((c, i) => ({ ...c, runtimeId: `rt${i}` }));
        const k = seed % Math.max(1, withIds.length);
        const shuffled = [...withIds.slice(k), ...withIds.slice(0, k)].reverse();
        const p = pins === undefined ? undefined : pin(...pins);
        expect(resolveCell(req, shuffled, p, policy)).toEqual(resolveCell(req, withIds, p, policy));
      }),
      { numRuns: 150 },
    );
  });
});
