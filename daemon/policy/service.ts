/** Placeholder: the policy service (replaced by the policy feature). */
import type { Daemon } from "../daemon.js";
import type { DaemonConfig } from "../types.js";

export interface PolicyService {
  onConfig(config: DaemonConfig): void;
  stop(): void;
}

export async function attachPolicy(_daemon: Daemon): Promise<PolicyService> {
  return { onConfig: () => {}, stop: () => {} };
}
