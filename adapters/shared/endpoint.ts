import type { RuntimeSpec } from "../../base/spec.js";

/** `http://host:port` of a runtime rmxd launched, once it has a port. */
export function localEndpoint(spec: Pick<RuntimeSpec, "host">, port: number | undefined): string | undefined {
  return port !== undefined ? `http://${spec.host}:${port}` : undefined;
}
