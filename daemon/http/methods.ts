/**
 * `http.token`: the gateway's bearer token and address, over the socket (whose own access check decides
 * who may read it), so `rmx http token` never reads daemon files itself.
 */
import { z } from "zod";
import type { HttpSpec } from "../../base/spec.js";
import type { MethodTable } from "../../ipc/server.js";

export interface HttpTokenResult {
  auth: HttpSpec["auth"];
  /** Absent with `http.auth: none`. */
  token?: string;
  /** Where the gateway listens; absent when it is off or could not listen. */
  listen?: string;
  base_url?: string;
  problem?: string;
}

export interface HttpMethodsHost {
  token(): string | undefined;
  auth(): HttpSpec["auth"];
  listening(): string | undefined;
  problem(): string | undefined;
}

export function httpMethods(host: HttpMethodsHost): MethodTable {
  return {
    "http.token": {
      params: z.strictObject({}),
      handler: (): HttpTokenResult => {
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
