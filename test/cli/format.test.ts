import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../base/units.js";
import {
  alignColumns,
  budgetExhaustedDetail,
  colorEnabled,
  createPalette,
  formatLocalTime,
  formatSeconds,
  paintTone,
  STATE_MARKS,
  stateMark,
  summarizePayload,
  visibleWidth,
} from "../../ipc/cli/format.js";
import type { RestartBudgetView } from "../../ipc/protocol/runtime.js";

const ESC = "\u001b";
const utc = (iso: string): string => iso.slice(11, 19);

describe("colours", () => {
  it("are on only for a terminal without --no-color and without a non-empty NO_COLOR", () => {
    const cases: Array<[boolean | undefined, boolean, NodeJS.ProcessEnv, boolean]> = [
      [true, false, {}, true],
      [true, false, { NO_COLOR: "" }, true],
      [true, false, { NO_COLOR: "1" }, false],
      [true, true, {}, false],
      [false, false, {}, false],
      [undefined, false, {}, false],
    ];
    for (const [isTTY, noColorFlag, env, expected] of cases) {
      expect(colorEnabled({ isTTY, noColorFlag, env }), JSON.stringify({ isTTY, noColorFlag, env })).toBe(
        expected,
      );
    }
  });

  it("a disabled palette never emits an escape; an enabled one wraps and resets", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const off = createPalette(false);
        for (const paint of [off.green, off.yellow, off.red, off.dim, off.bold])
          expect(paint(text)).toBe(text);
        const on = createPalette(true);
        expect(on.red(text)).toBe(`${ESC}[31m${text}${ESC}[39m`);
        expect(visibleWidth(on.green(text))).toBe([...text.replace(/\u001b\[[0-9;]*m/g, "")].length);
      }),
    );
  });

  it("every state has a symbol and a tone; unknown states still get one", () => {
    for (const [state, mark] of Object.entries(STATE_MARKS)) {
      expect(mark.symbol.length, state).toBeGreaterThan(0);
      expect(paintTone(createPalette(false), mark.tone, state)).toBe(state);
    }
    expect(stateMark("ready")).toEqual({ symbol: "✓", tone: "good" });
    expect(stateMark("exhausted").tone).toBe("bad");
    expect(stateMark("martian")).toEqual({ symbol: "?", tone: "warn" });
  });
});

describe("formatLocalTime", () => {
  it("prints HH:MM:SS in the local zone and leaves garbage alone", () => {
    const iso = "2025-01-01T12:09:41.123Z";
    const d = new Date(iso);
    const pad = (n: number) => String(n).padStart(2, "0");
    expect(formatLocalTime(iso)).toBe(`${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`);
    expect(formatLocalTime("not a time")).toBe("not a time");
  });
});

describe("formatSeconds", () => {
  it("uses at most two units", () => {
    expect(formatSeconds(0)).toBe("0s");
    expect(formatSeconds(59.9)).toBe("59s");
    expect(formatSeconds(60)).toBe("1m0s");
    expect(formatSeconds(192)).toBe("3m12s");
    expect(formatSeconds(3600)).toBe("1h0m");
    expect(formatSeconds(7500)).toBe("2h5m");
    expect(formatSeconds(86_400 * 3 + 3600 * 4 + 59)).toBe("3d4h");
    expect(formatSeconds(-5)).toBe("0s");
    expect(formatSeconds(Number.NaN)).toBe("0s");
    expect(formatSeconds(Number.POSITIVE_INFINITY)).toBe("0s");
  });

  it("reads back to the whole seconds it was given, within the precision it shows", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 86_400 }), (seconds) => {
        const text = formatSeconds(seconds);
        const units: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };
        const parts = [...text.matchAll(/(\d+)([dhms])/g)];
        expect(parts.length).toBeGreaterThan(0);
        expect(parts.length).toBeLessThanOrEqual(2);
        const back = parts.reduce((sum, [, n, u]) => sum + Number(n) * (units[u as string] as number), 0);
        const last = parts[parts.length - 1]?.[2] as string;
        expect(back).toBeLessThanOrEqual(seconds);
        expect(seconds - back).toBeLessThan(units[last] as number);
      }),
    );
  });
});

describe("parseDuration as the CLI reads flags (base/units.ts, the config's parser)", () => {
  it("reads ms, s, m, h and d; refuses a bare number (its unit would be a guess) and the rest", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("60s")).toBe(60_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    for (const bad of ["", "s", "-1s", "60", "ten", "1 m"]) expect(parseDuration(bad), bad).toBeUndefined();
  });
});

describe("budget texts", () => {
  const budget: RestartBudgetView = {
    max_restarts: 3,
    window_seconds: 600,
    used: 1,
    remaining: 2,
    reset_at: "2025-01-01T12:09:41.000Z",
  };
  it("say what was used and when a slot frees", () => {
    expect(budgetExhaustedDetail({ ...budget, used: 3, remaining: 0 }, utc)).toBe(
      "3/3 used; resets at 12:09:41",
    );
    expect(budgetExhaustedDetail({ ...budget, reset_at: undefined }, utc)).toBe("1/3 used");
  });
});

describe("summarizePayload", () => {
  it("shows top-level fields as key=value and abbreviates nesting", () => {
    expect(summarizePayload({ id: "alpha", from: "starting", to: "ready" })).toBe(
      "id=alpha from=starting to=ready",
    );
    expect(summarizePayload({ reason: "exit code 1", n: 2, ok: true, x: null })).toBe(
      'reason="exit code 1" n=2 ok=true x=null',
    );
    expect(summarizePayload({ budget: { used: 1 }, lines: [1, 2, 3], f: () => 1 })).toBe(
      "budget={…} lines=[3]",
    );
    expect(summarizePayload("plain")).toBe("plain");
    expect(summarizePayload(undefined)).toBe("");
  });

  it("never exceeds 120 characters", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (payload) => {
        expect(summarizePayload(payload).length).toBeLessThanOrEqual(120);
      }),
    );
  });
});

describe("alignColumns", () => {
  it("pads every column but the last to its widest visible cell", () => {
    const red = createPalette(true).red;
    const lines = alignColumns([
      ["a", red("ready"), "x"],
      ["long-id", "exhausted", "y"],
    ]);
    expect(lines[0]).toBe(`a        ${red("ready")}      x`);
    expect(lines[1]).toBe("long-id  exhausted  y");
  });

  it("puts the start of each column at the same visible offset on every row", () => {
    const cell = fc.string({ unit: fc.constantFrom("a", "b", "✓", " ") });
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell, cell), { minLength: 1, maxLength: 6 }), (rows) => {
        const width = (col: 0 | 1) => Math.max(...rows.map((row) => [...row[col]].length));
        const second = width(0) + 2;
        const third = second + width(1) + 2;
        alignColumns(rows).forEach((line, i) => {
          const [a, b, c] = rows[i] as [string, string, string];
          const chars = [...line];
          expect(chars.slice(0, [...a].length).join("")).toBe(a);
          expect(chars.slice(second, second + [...b].length).join("")).toBe(b);
          expect(chars.slice(third).join("")).toBe(c);
        });
      }),
    );
  });
});
