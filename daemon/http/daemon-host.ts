/** Builds the ObservabilityHost on the daemon's parts: each member a thin call, nothing cached here. */
import type { LlamaMetrics } from "../../adapters/types.js";
import type { MatrixCell } from "../../ipc/protocol/matrix.js";
import { describeParamsError } from "../../ipc/protocol/params-error.js";
import type { RuntimeStatusResult } from "../../ipc/protocol/runtime.js";
import type { MethodTable } from "../../ipc/server/types.js";
import type { EventBus } from "../events.js";
import type { MatrixService } from "../matrix/service.js";
import type { RuntimeSupervisor } from "../supervise/runtime.js";
import type { ObservabilityHost } from "./observability-host.js";
import { InvalidParams } from "./respond.js";

/** What the host reads of the daemon. */
export interface ObservabilitySource {
  readonly nodeId: string;
  readonly bus: EventBus;
  readonly matrix: Pick<MatrixService, "cells" | "backendMetrics"> | undefined;
  readonly methods: MethodTable;
  status(): RuntimeStatusResult;
  getRuntime(id: string): Pick<RuntimeSupervisor, "log">;
}

const NONE: ReadonlyMap<string, LlamaMetrics> = new Map();
const EMPTY: readonly MatrixCell[] = [];

export function observabilityHost(daemon: ObservabilitySource): ObservabilityHost {
  return {
    nodeId: () => daemon.nodeId,
    status: () => daemon.status(),
    cells: () => daemon.matrix?.cells() ?? EMPTY,
    subscribe: (patterns, listener) => daemon.bus.subscribe(patterns, listener),
    backendMetrics: () => daemon.matrix?.backendMetrics() ?? NONE,
    async action(method, input) {
      // The socket's own entry: the same schema (strict, defaults) and the same handler.
      const def = daemon.methods[method];
      if (def === undefined) throw new InvalidParams(`method ${method} is not available`, []);
      const parsed = def.params.safeParse(input ?? {});
      if (!parsed.success) {
        const { message, issues } = describeParamsError(parsed.error, input);
        throw new InvalidParams(`${method}: ${message}`, issues);
      }
      const aborted = new AbortController();
      return def.handler(parsed.data, {
        connectionId: -1,
        notify: () => {},
        onClose: () => {},
        signal: aborted.signal,
      });
    },
    logsTail: (id, lines) => daemon.getRuntime(id).log.tail(lines),
    logsFollow: (id, onLine) => daemon.getRuntime(id).log.onLine(onLine),
  };
}
