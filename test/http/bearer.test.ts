/**
 * bearerMatches scans the header by hand: it accepts exactly what the pattern it replaced accepted
 * (`/^Bearer[ \t]+(\S+)\s*$/i`, then the captured token equal to the expected one), over any header.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bearerMatches } from "../../daemon/http/token.js";

function byPattern(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  return match !== null && match[1] === token;
}

const TOKEN = "rmx-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
const piece = fc.oneof(
  fc.constantFrom(
    "Bearer",
    "bearer",
    "BEARER",
    "Bear",
    "Basic",
    TOKEN,
    TOKEN.slice(1),
    `${TOKEN}x`,
    "é",
    "\u00a0",
  ),
  fc.constantFrom(" ", "\t", "\n", "\r", "\v", "\u3000", "\ufeff", "  "),
  fc.string({ maxLength: 6 }),
);

describe("bearerMatches", () => {
  it("accepts what the Bearer pattern accepted, over arbitrary headers", () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }), fc.constantFrom(TOKEN, "é-tok", "a"), (parts, token) => {
        const header = parts.join("");
        expect(bearerMatches(header, token)).toBe(byPattern(header, token));
      }),
      { numRuns: 2000 },
    );
  });

  it("accepts the token with blanks and trailing white space, in any case of the scheme", () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer\t\t${TOKEN}`, `BEARER  ${TOKEN} \r\n`]) {
      expect(bearerMatches(header, TOKEN)).toBe(true);
      expect(bearerMatches(header, `${TOKEN.slice(0, -1)}H`)).toBe(false);
    }
    expect(bearerMatches(`Bearer ${TOKEN} x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer${TOKEN}`, TOKEN)).toBe(false);
  });
});
