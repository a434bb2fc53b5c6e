/** Placeholder: socket methods of the policy feature (pins, leases, resolve, reload/switch, chat). */
import type { MethodTable } from "../../ipc/server.js";
import type { Daemon } from "../daemon.js";

export function policyMethods(_daemon: Daemon): MethodTable {
  return {};
}
