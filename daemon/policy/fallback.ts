/**
 * Keeps users on a fallback cell until their preferred cell has proven itself, so a flapping cell does
 * not bounce them back and forth.
 *
 * Per scope (an agent/project key) it is either on the preferred cell or on fallback:
 *  - on preferred, preferred unhealthy → fallback to the resolution's choice; one `policy.fallback`.
 *  - on fallback, users stay on the fallback cell while it remains eligible (in `resolution.ranked`);
 *    if it drops out they move to the resolution's choice, with another `policy.fallback` (from → to).
 *  - on fallback, once the preferred cell has been healthy in every observation for `restoreAfterMs`
 *    (any unhealthy observation restarts the count), users return: one `policy.restored`.
 *  - while the preferred cell is healthy but not yet proven and the fallback cell has dropped out, users are
 *    served by the resolution's choice (possibly the preferred cell) without an event: a healthy but
 *    unproven cell beats no cell. The restore still waits for the full period.
 * Call `observe` on every resolution for the scope and on every health tick.
 */

import type { Clock } from "../../base/clock.js";
import { rfc3339 } from "../../base/clock.js";
import type { EventPayloads } from "../../ipc/protocol/events.js";
import type { FallbackPayload, FallbackScopeView, RestoredPayload } from "../../ipc/protocol/policy.js";
import type { Resolution } from "./resolve.js";

export type FallbackTopic = "policy.fallback" | "policy.restored";

interface ScopeState {
  preferred: string;
  onFallback: boolean;
  serving: string | undefined;
  healthySince: number | undefined;
  since: number;
}

export class FallbackTracker {
  private readonly scopes = new Map<string, ScopeState>();

  constructor(
    private readonly opts: {
      clock: Clock;
      restoreAfterMs: number;
      emit: <T extends FallbackTopic>(topic: T, payload: EventPayloads[T]) => void;
    },
  ) {}

  observe(
    scopeKey: string,
    preferred: string,
    preferredHealthy: boolean,
    resolution: Resolution,
  ): { cell: string | undefined } {
    const now = this.opts.clock.now();
    let s = this.scopes.get(scopeKey);
    if (s === undefined || s.preferred !== preferred) {
      s = { preferred, onFallback: false, serving: undefined, healthySince: undefined, since: now };
      this.scopes.set(scopeKey, s);
    }
    if (!preferredHealthy) s.healthySince = undefined;
    else s.healthySince ??= now;
    const chosen = resolution.chosen?.cell;

    if (!s.onFallback) {
      if (!preferredHealthy) {
        s.onFallback = true;
        s.since = now;
        this.fallback(scopeKey, s, preferred, chosen, reasonFor(resolution, preferred), now);
      } else {
        s.serving = chosen;
      }
      return { cell: chosen };
    }

    if (s.healthySince !== undefined && now - s.healthySince >= this.opts.restoreAfterMs) {
      const payload: RestoredPayload = {
        scope: scopeKey,
        from: s.serving ?? null,
        to: preferred,
        healthy_for_ms: now - s.healthySince,
        at: rfc3339(now),
      };
      s.onFallback = false;
      s.serving = chosen;
      s.since = now;
      this.opts.emit("policy.restored", payload);
      return { cell: chosen };
    }

    const stillEligible =
      s.serving !== undefined &&
      s.serving !== preferred &&
      resolution.ranked.some((r) => r.cell === s.serving);
    if (stillEligible) return { cell: s.serving };

    if (chosen === s.serving) return { cell: chosen };
    if (chosen === preferred) {
      // Interim: the fallback cell is gone and the preferred cell is healthy but unproven.
      s.serving = chosen;
      return { cell: chosen };
    }
    const why = s.serving === undefined ? "no eligible cell" : reasonFor(resolution, s.serving);
    this.fallback(scopeKey, s, s.serving ?? null, chosen, why, now);
    return { cell: chosen };
  }

  /** Forget a scope (its pin was cleared or changed). */
  forget(scopeKey: string): boolean {
    return this.scopes.delete(scopeKey);
  }

  list(): FallbackScopeView[] {
    return [...this.scopes.entries()].map(([scope, s]) => ({
      scope,
      preferred: s.preferred,
      on_fallback: s.onFallback,
      serving: s.serving ?? null,
      ...(s.healthySince === undefined ? {} : { preferred_healthy_since: rfc3339(s.healthySince) }),
      since: rfc3339(s.since),
    }));
  }

  private fallback(
    scope: string,
    s: ScopeState,
    from: string | null,
    to: string | undefined,
    reason: string,
    now: number,
  ): void {
    s.serving = to;
    const payload: FallbackPayload = { scope, from, to: to ?? null, reason, at: rfc3339(now) };
    this.opts.emit("policy.fallback", payload);
  }
}

function reasonFor(resolution: Resolution, cell: string): string {
  const passed = resolution.passed_over.find((p) => p.cell === cell);
  return passed === undefined ? `${cell} is unhealthy` : `${passed.why}: ${passed.detail}`;
}
