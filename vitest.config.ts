import { defineConfig } from "vitest/config";

/**
 * The files that assert a bound the issues ask for (another client's round trip under 100 ms during an
 * attack, a dashboard change within 1 s): run after the rest, one at a time, so a sibling file's load on two
 * cores is not what they measure.
 */
const BOUNDED = [
  "test/faults/limits-freeze.test.ts",
  "test/faults/limits-unbounded.test.ts",
  "test/faults/wire-limits.test.ts",
  "test/http/dashboard-browser.test.ts",
];

export default defineConfig({
  test: {
    // Tests spawn real daemons, stubs and sockets; two cores: keep parallelism modest.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: ["test/**/*.test.ts"],
          exclude: BOUNDED,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "bounds", include: BOUNDED, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
