/**
 * Waiting for a runtime to settle: the one wait every "and then tell me how it went" path shares
 * (`runtime.start --wait`, `runtime.restore --wait`, `runtime.stop --wait`, quick actions, on-demand
 * starts). A wait never throws: it ends in one of `states` or, after `timeoutMs`, reports a timeout with
 * the state the runtime was in then.
 */

import type { RuntimeState } from "../../ipc/protocol/runtime.js";
import type { RmxEvent, Topic } from "../events.js";

/** What a wait reads of the supervisor. */
export interface SettlingRuntime {
  readonly id: string;
  readonly state: RuntimeState;
}

/** What a wait needs of the event bus. */
export interface SettleBus {
  waitFor<P>(topic: Topic, predicate: (payload: P) => boolean, timeoutMs: number): Promise<RmxEvent<P>>;
}

export interface SettleOptions {
  states: readonly RuntimeState[];
  timeoutMs: number;
  /**
   * Wait for the next change into one of `states` even when the runtime is in one now: for a change the
   * caller is about to make (the wait must be armed before it, or the transition could be missed).
   */
  next?: boolean;
}

export type Settled = { timedOut: false; state: RuntimeState } | { timedOut: true; state: RuntimeState };

/** The states after which a started runtime needs nothing more from us. */
export const SETTLED_STATES: readonly RuntimeState[] = ["ready", "failed", "exhausted", "stopped"];

/**
 * What a `--wait` on start/restore waits for: a settled state, or `idle` (an idle runtime was stopped on
 * purpose and reads as "stopped" to the caller).
 */
export const SETTLED_OR_IDLE: readonly RuntimeState[] = [...SETTLED_STATES, "idle"];

/** Subscribes synchronously, so a transition caused right after the call is seen. */
export function awaitSettled(rt: SettlingRuntime, bus: SettleBus, opts: SettleOptions): Promise<Settled> {
  if (opts.next !== true && opts.states.includes(rt.state))
    return Promise.resolve({ timedOut: false, state: rt.state });
  return bus
    .waitFor<{ id: string; to: RuntimeState }>(
      "runtime.state.changed",
      (p) => p.id === rt.id && opts.states.includes(p.to),
      opts.timeoutMs,
    )
    .then(
      (e): Settled => ({ timedOut: false, state: e.payload.to }),
      (): Settled => ({ timedOut: true, state: rt.state }),
    );
}
