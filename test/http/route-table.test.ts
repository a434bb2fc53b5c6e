/**
 * The gateway's index of mounted routes finds what a scan of the list in order finds (the first route
 * whose method and path match), for any list of exact and pattern routes and any request.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Route } from "../../daemon/http/observability-host.js";
import { RouteTable } from "../../daemon/http/route-table.js";

const PATHS = ["/", "/metrics", "/api/state", "/v2/models/a/infer", "/v2/models/b/infer", "/x"];
const PATTERNS = [/^\/v2\/models\/([^/]+)\/infer$/, /^\/api\//, /^\/$/];

const route: fc.Arbitrary<Route> = fc.record({
  method: fc.constantFrom("GET" as const, "POST" as const),
  path: fc.oneof(fc.constantFrom(...PATHS), fc.constantFrom(...PATTERNS)),
  auth: fc.constant("none" as const),
  handle: fc.constant(async () => {}),
});

function scan(routes: readonly Route[], method: string | undefined, path: string): Route | undefined {
  return routes.find(
    (r) => r.method === method && (typeof r.path === "string" ? r.path === path : r.path.test(path)),
  );
}

describe("RouteTable", () => {
  it("finds the first matching route, as a scan in order does", () => {
    fc.assert(
      fc.property(
        fc.array(route, { maxLength: 10 }),
        fc.constantFrom("GET", "POST", "PUT", undefined),
        fc.constantFrom(...PATHS, "/v2/models//infer", "/nope"),
        (routes, method, path) => {
          expect(new RouteTable(routes).find(method, path)).toBe(scan(routes, method, path));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
