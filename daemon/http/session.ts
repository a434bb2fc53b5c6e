/**
 * The dashboard's sessions: `rmx dashboard` asks the daemon (over the socket, so only a local user who
 * may use the socket can) for a one-time login token valid 60 s; redeeming it at `/login` sets an
 * HttpOnly SameSite=Strict cookie. Every POST also carries the session's CSRF token in a header.
 * Pure but for randomness: the clock is injected. Tokens are kept by their SHA-256, never in clear.
 */

import type { Clock } from "../../base/clock.js";
import { equalConstantTime } from "../../base/constant-time.js";
import { randomBase64url } from "../../base/entropy.js";
import { sha256Hex } from "../../base/sha256.js";

export const SESSION_COOKIE = "rmx_session";
export const CSRF_HEADER = "x-rmx-csrf";

export interface SessionOptions {
  loginTtlMs: number;
  sessionTtlMs: number;
  /** Bounds, so a caller looping on `dashboard.login` cannot grow the daemon's memory. */
  maxPendingLogins: number;
  maxSessions: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  loginTtlMs: 60_000,
  sessionTtlMs: 12 * 60 * 60 * 1000,
  maxPendingLogins: 32,
  maxSessions: 64,
};

export interface Session {
  csrf: string;
  expiresAt: number;
}

function digest(token: string): string {
  return sha256Hex(token);
}

function newToken(): string {
  return randomBase64url(32);
}

/** Oldest first (Map keeps insertion order): drop the oldest while over the bound. */
function bound<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export class DashboardSessions {
  private readonly logins = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();
  private readonly opts: SessionOptions;

  constructor(
    private readonly clock: Clock,
    opts: Partial<SessionOptions> = {},
  ) {
    this.opts = { ...DEFAULT_SESSION_OPTIONS, ...opts };
  }

  /** A single-use login token and when it expires (ms since the epoch). */
  issueLogin(): { token: string; expiresAt: number } {
    this.sweep();
    const token = newToken();
    const expiresAt = this.clock.now() + this.opts.loginTtlMs;
    this.logins.set(digest(token), expiresAt);
    bound(this.logins, this.opts.maxPendingLogins);
    return { token, expiresAt };
  }

  /** Spends a login token: a new session's cookie value, or undefined when unknown, used or expired. */
  redeem(token: string): { cookie: string; session: Session } | undefined {
    const key = digest(token);
    const expiresAt = this.logins.get(key);
    this.logins.delete(key);
    if (expiresAt === undefined || this.clock.now() > expiresAt) return undefined;
    const cookie = newToken();
    const session = { csrf: newToken(), expiresAt: this.clock.now() + this.opts.sessionTtlMs };
    this.sessions.set(digest(cookie), session);
    bound(this.sessions, this.opts.maxSessions);
    return { cookie, session };
  }

  /** The session a request's Cookie header names, when it is live. */
  lookup(cookieHeader: string | undefined): Session | undefined {
    const value = parseCookies(cookieHeader).get(SESSION_COOKIE);
    if (value === undefined) return undefined;
    const key = digest(value);
    const session = this.sessions.get(key);
    if (session === undefined) return undefined;
    if (this.clock.now() > session.expiresAt) {
      this.sessions.delete(key);
      return undefined;
    }
    return session;
  }

  /** Constant-time comparison of the header's CSRF token with the session's. */
  static csrfMatches(session: Session, header: string | string[] | undefined): boolean {
    if (typeof header !== "string") return false;
    const a = Buffer.from(header);
    const b = Buffer.from(session.csrf);
    return a.length === b.length && equalConstantTime(a, b);
  }

  /** `Set-Cookie` value for a new session. `secure` when the listener serves TLS. */
  cookieHeader(cookie: string, secure = false): string {
    const maxAge = Math.floor(this.opts.sessionTtlMs / 1000);
    return `${SESSION_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [k, at] of this.logins) if (now > at) this.logins.delete(k);
    for (const [k, s] of this.sessions) if (now > s.expiresAt) this.sessions.delete(k);
  }

  get counts(): { logins: number; sessions: number } {
    return { logins: this.logins.size, sessions: this.sessions.size };
  }
}
