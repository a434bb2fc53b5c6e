/**
 * Errors on the wire, both ways: `toRpcError` turns whatever a handler threw into the JSON-RPC error
 * object the server answers with; `RpcCallError` is what the client rejects with.
 */
import { ErrorCodes, isRmxError } from "../base/errors.js";
import type { JsonRpcErrorObject } from "./protocol/jsonrpc.js";
import { RpcErrors } from "./protocol/jsonrpc.js";

export type RpcErrorData = { code?: string; [key: string]: unknown };

export class RpcCallError extends Error {
  override readonly name = "RpcCallError";
  /** The JSON-RPC error number. */
  readonly code: number;
  readonly data: RpcErrorData | undefined;
  /** The stable error code (`data.code`, e.g. "RUNTIME_NOT_FOUND"), when the daemon gave one. */
  readonly stableCode: string | undefined;

  constructor(code: number, message: string, data?: RpcErrorData, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.data = data;
    this.stableCode = typeof data?.code === "string" ? data.code : undefined;
  }

  static fromObject(error: JsonRpcErrorObject): RpcCallError {
    return new RpcCallError(error.code, error.message, error.data);
  }

  /** An error raised on this side of the socket, carrying one of the stable codes. */
  static local(
    stableCode: keyof typeof ErrorCodes,
    message: string,
    data?: Record<string, unknown>,
    options?: { cause?: unknown },
  ): RpcCallError {
    return new RpcCallError(ErrorCodes[stableCode].rpc, message, { ...data, code: stableCode }, options);
  }

  toJSON(): JsonRpcErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** The error object for anything a handler threw. Unknown throws become -32603 with their message. */
export function toRpcError(err: unknown): JsonRpcErrorObject {
  if (isRmxError(err)) {
    // The stable code leads and wins over a stray `code` in the details.
    const data: RpcErrorData = { code: err.code, ...err.data };
    data.code = err.code;
    return { code: err.rpcCode, message: err.message, data };
  }
  if (err instanceof RpcCallError) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: RpcErrors.INTERNAL_ERROR,
    message: `internal error: ${message}`,
    data: { code: "INTERNAL" },
  };
}
