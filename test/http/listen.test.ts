/** The listen address parser and the Host guard's loopback rule. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatListen, hostAllowed, isLoopbackBind, parseListen } from "../../config/http-listen.js";
import { bearerMatches } from "../../daemon/http/token.js";

describe("parseListen", () => {
  it("reads HOST:PORT, [IPv6]:PORT and off, and refuses the rest", () => {
    expect(parseListen("127.0.0.1:8765")).toEqual({ host: "127.0.0.1", port: 8765 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListen("off")).toBeNull();
    for (const bad of ["8765", "localhost", "127.0.0.1:70000", ":80", "a b:1"])
      expect(parseListen(bad)).toBeUndefined();
  });

  it("round-trips every formatted address", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.constant("::1"), fc.constant("localhost")),
        fc.integer({ min: 0, max: 65535 }),
        (host, port) => {
          expect(parseListen(formatListen({ host, port }))).toEqual({ host, port });
        },
      ),
    );
  });
});

describe("hostAllowed", () => {
  it("accepts loopback names with any port and allowed hosts; refuses every other name", () => {
    expect(hostAllowed("localhost:8765", [])).toBe(true);
    expect(hostAllowed("[::1]:1", [])).toBe(true);
    expect(hostAllowed("127.0.0.1", [])).toBe(true);
    expect(hostAllowed("evil.example", [])).toBe(false);
    expect(hostAllowed(undefined, [])).toBe(false);
    expect(hostAllowed("box.lan:8765", ["box.lan"])).toBe(true);
    fc.assert(
      fc.property(fc.domain(), (name) => {
        fc.pre(name !== "localhost");
        expect(hostAllowed(`${name}:8765`, [])).toBe(false);
      }),
    );
  });

  it("counts only loopback binds as loopback", () => {
    expect(isLoopbackBind("127.0.0.1")).toBe(true);
    expect(isLoopbackBind("0.0.0.0")).toBe(false);
    expect(isLoopbackBind("192.168.1.2")).toBe(false);
  });
});

describe("bearerMatches", () => {
  it("matches only the exact token", () => {
    expect(bearerMatches("Bearer rmx-abc", "rmx-abc")).toBe(true);
    expect(bearerMatches("bearer rmx-abc", "rmx-abc")).toBe(true);
    expect(bearerMatches("Bearer rmx-abd", "rmx-abc")).toBe(false);
    expect(bearerMatches("rmx-abc", "rmx-abc")).toBe(false);
    expect(bearerMatches(undefined, "rmx-abc")).toBe(false);
  });
});
