/** Response shapes and encoding shared by the connection and the dispatcher. */
import type { JsonRpcErrorObject, JsonRpcResponse } from "../protocol/jsonrpc.js";
import { RpcErrors } from "../protocol/jsonrpc.js";

export type RequestId = string | number | null;

export function errorResponse(id: RequestId, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error };
}

export function wireError(
  code: number,
  message: string,
  data?: JsonRpcErrorObject["data"],
): JsonRpcErrorObject {
  return data === undefined ? { code, message } : { code, message, data };
}

/** An invalid-request answer about a wire limit: `data.code` names the limit, `data.limit` its value. */
export function limitError(
  code: string,
  message: string,
  limit: number,
  id: RequestId = null,
): JsonRpcResponse {
  return errorResponse(id, wireError(RpcErrors.INVALID_REQUEST, message, { code, limit }));
}

/**
 * A result already serialised to JSON by its handler (e.g. a snapshot shared by many callers): spliced
 * into the response as is, so a hot read is not serialised again per call.
 */
export class PreEncoded {
  constructor(readonly json: string) {}
  toJSON(): unknown {
    return JSON.parse(this.json);
  }
}

/** Encodes a response; a result JSON cannot represent (BigInt, cycles) becomes an internal error. */
export function encodeResponse(response: JsonRpcResponse): string {
  try {
    if ("result" in response && response.result instanceof PreEncoded) {
      return `{"jsonrpc":"2.0","id":${JSON.stringify(response.id)},"result":${response.result.json}}`;
    }
    return JSON.stringify(response);
  } catch (error) {
    return JSON.stringify(
      errorResponse(
        response.id,
        wireError(RpcErrors.INTERNAL_ERROR, `internal error: result is not serializable (${String(error)})`, {
          code: "INTERNAL",
        }),
      ),
    );
  }
}
