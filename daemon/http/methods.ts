/**
 * `http.token`: the gateway's bearer token and address, over the socket (whose own access check decides
 * who may read it), so `rmx http token` never reads daemon files itself.
 */
import type { HttpSpec } from "../../base/spec.js";
import type { HttpTokenResult } from "../../ipc/protocol/http.js";
import { paramSchemas } from "../../ipc/protocol/schemas.js";
import type { MethodTable } from "../../ipc/server.js";

export interface HttpMethodsHost {
  /** Settles once the gateway's start was attempted (the socket answers before it, during start-up). */
  started(): Promise<void>;
  token(): string | undefined;
  auth(): HttpSpec["auth"];
  listening(): string | undefined;
  problem(): string | undefined;
}

export function httpMethods(host: HttpMethodsHost): MethodTable {
  return {
    "http.token": {
      params: paramSchemas["http.token"],
      handler: async (): Promise<HttpTokenResult> => {
        await host.started();
        const result: HttpTokenResult = { auth: host.auth() };
        const token = host.token();
        if (token !== undefined) result.token = token;
        const listen = host.listening();
        if (listen !== undefined) {
          result.listen = listen;
          result.base_url = `http://${listen}/v1`;
        }
        const problem = host.problem();
        if (problem !== undefined) result.problem = problem;
        return result;
      },
    },
  };
}
