/** Dashboard sessions: single-use login tokens valid 60 s, cookie sessions, CSRF; on a manual clock. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../base/clock.js";
import { DashboardSessions, parseCookies, SESSION_COOKIE } from "../../daemon/http/session.js";

const cookieOf = (value: string) => `other=1; ${SESSION_COOKIE}=${value}`;

describe("dashboard sessions", () => {
  it("a login token redeems once, only within its 60 s", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 120_000 }), fc.integer({ min: 1, max: 4 }), (waitMs, tries) => {
        const clock = new ManualClock();
        const sessions = new DashboardSessions(clock);
        const { token, expiresAt } = sessions.issueLogin();
        expect(expiresAt - clock.now()).toBe(60_000);
        clock.advance(waitMs);
        const results = Array.from({ length: tries }, () => sessions.redeem(token));
        const granted = results.filter((r) => r !== undefined);
        expect(granted.length).toBe(waitMs <= 60_000 ? 1 : 0);
        expect(results.slice(1).every((r) => r === undefined)).toBe(true);
      }),
    );
  });

  it("a session cookie looks up its session until it expires; CSRF must match exactly", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60 }),
        fc.integer({ min: 0, max: 24 * 3600_000 }),
        (guess, waitMs) => {
          const clock = new ManualClock();
          const sessions = new DashboardSessions(clock, { sessionTtlMs: 12 * 3600_000 });
          const granted = sessions.redeem(sessions.issueLogin().token);
          expect(granted).toBeDefined();
          const { cookie, session } = granted as NonNullable<typeof granted>;
          expect(DashboardSessions.csrfMatches(session, session.csrf)).toBe(true);
          if (guess !== session.csrf) expect(DashboardSessions.csrfMatches(session, guess)).toBe(false);
          expect(DashboardSessions.csrfMatches(session, undefined)).toBe(false);
          expect(sessions.lookup(cookieOf(guess === cookie ? `${guess}x` : guess))).toBeUndefined();
          clock.advance(waitMs);
          expect(sessions.lookup(cookieOf(cookie)) !== undefined).toBe(waitMs <= 12 * 3600_000);
        },
      ),
    );
  });

  it("pending logins and sessions are bounded", () => {
    const sessions = new DashboardSessions(new ManualClock(), { maxPendingLogins: 4, maxSessions: 2 });
    const tokens = Array.from({ length: 10 }, () => sessions.issueLogin().token);
    expect(sessions.counts.logins).toBe(4);
    expect(sessions.redeem(tokens[0] as string)).toBeUndefined();
    for (const t of tokens.slice(-4)) sessions.redeem(t);
    expect(sessions.counts.sessions).toBe(2);
  });

  it("the cookie is HttpOnly and SameSite=Strict", () => {
    const header = new DashboardSessions(new ManualClock()).cookieHeader("abc");
    expect(header).toMatch(/^rmx_session=abc; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(parseCookies("a=1; rmx_session=x=y").get("rmx_session")).toBe("x=y");
  });
});
