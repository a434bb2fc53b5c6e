/** The effects of a step that only report (events and log lines), apart from the ones that act on the process. */
import type { Logger } from "pino";
import type { ProbeOutcome } from "../../adapters/types.js";
import type { RestartBudgetView } from "../../ipc/protocol/runtime.js";
import type { EventBus } from "../events.js";
import type { Effect } from "./state.js";

export interface ReportContext {
  id: string;
  bus: Pick<EventBus, "publish">;
  logger: Pick<Logger, "info" | "warn">;
  budget(): RestartBudgetView;
  lastFailure: ProbeOutcome | undefined;
  /** The instant of the step that made the effect (its events' time; see EventBus.publish). */
  at: number;
}

/** Publishes and logs what `effect` reports; effects that act (spawn, kill, timers) are not handled here. */
export function reportEffect(effect: Effect, ctx: ReportContext): void {
  switch (effect.type) {
    case "restart_recorded": {
      const budget = ctx.budget();
      ctx.bus.publish(
        "runtime.restart",
        { id: ctx.id, automatic: effect.automatic, restart_budget: budget },
        ctx.at,
      );
      ctx.logger.info({ automatic: effect.automatic, budget }, "restart recorded");
      break;
    }
    case "budget_reset":
      ctx.logger.warn({ budget: ctx.budget() }, "restart budget reset by request");
      break;
    case "denied": {
      const budget = ctx.budget();
      ctx.bus.publish(
        "runtime.budget.denied",
        { id: ctx.id, reason: effect.reason, restart_budget: budget },
        ctx.at,
      );
      ctx.logger.warn({ budget }, effect.reason);
      break;
    }
    case "probe_failed": {
      const { probe, count, threshold, reason } = effect;
      ctx.bus.publish(
        "runtime.probe.failed",
        { id: ctx.id, probe, count, threshold, outcome: ctx.lastFailure },
        ctx.at,
      );
      ctx.logger.warn(
        { probe, count, threshold, outcome: ctx.lastFailure?.kind, status: ctx.lastFailure?.status },
        reason,
      );
      break;
    }
    default:
      break;
  }
}
