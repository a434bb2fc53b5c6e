/**
 * JSON-RPC 2.0 dispatch: one line in, at most one line out. Requests, notifications and batches, the
 * method table, params validation and the mapping of thrown errors to answers. Knows nothing of sockets.
 */
import { RmxError } from "../../base/errors.js";
import type { JsonRpcResponse } from "../protocol/jsonrpc.js";
import { RpcErrors } from "../protocol/jsonrpc.js";
import { describeParamsError } from "../protocol/params-error.js";
import { RpcCallError, toRpcError } from "../rpc-error.js";
import { nestsDeeperThan } from "./json-depth.js";
import type { CallContext, MethodDef, RpcServerLogger } from "./types.js";
import { encodeResponse, errorResponse, limitError, type RequestId, wireError } from "./wire.js";

/**
 * The next turn of the event loop (timers/promises' setImmediate without loading that module: 0.1-0.3 MiB
 * of RSS on Node 24 for one call in a path that runs only for oversized batches).
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function isValidId(id: unknown): id is RequestId {
  return id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

/** Calls past the batch cap refused per event-loop turn. */
const REFUSALS_PER_TURN = 1000;

/** A value now, or later: a synchronous method's answer is never deferred (see answerLine). */
export type MaybePromise<T> = T | Promise<T>;

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === "function";
}

export interface DispatchLimits {
  maxBatch: number;
  maxJsonDepth: number;
}

export class Dispatcher {
  readonly methods = new Map<string, MethodDef>();

  constructor(
    private readonly log: RpcServerLogger,
    private readonly limits: DispatchLimits,
  ) {}

  /**
   * The answer to one line, newline included, or null when nothing is to be sent. Never rejects.
   *
   * A method whose handler returns a plain value (runtime.status, matrix.get: snapshots) is answered
   * synchronously, so the connection writes the answer in the same turn its content was taken: no event
   * published in between (a probe settling in a microtask) can reach the socket before an answer that
   * does not reflect it. Subscribe-then-snapshot clients rely on that order.
   */
  answerLine(line: string, ctx: CallContext): MaybePromise<string | null> {
    const { maxJsonDepth } = this.limits;
    // Checked before parsing: recursive code downstream (schemas, serialisers) would overflow the stack.
    if (nestsDeeperThan(line, maxJsonDepth)) {
      const refusal = limitError(
        "JSON_TOO_DEEP",
        `invalid request: the message nests arrays/objects deeper than the limit of ${maxJsonDepth} levels`,
        maxJsonDepth,
      );
      return `${encodeResponse(refusal)}\n`;
    }
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      const answer = errorResponse(
        null,
        wireError(RpcErrors.PARSE_ERROR, `parse error: ${(error as Error).message}`),
      );
      return `${encodeResponse(answer)}\n`;
    }
    if (Array.isArray(message)) return this.answerBatch(message, ctx);
    const response = this.dispatch(message, ctx);
    return isPromise(response) ? response.then(encodeLine) : encodeLine(response);
  }

  private async answerBatch(batch: unknown[], ctx: CallContext): Promise<string | null> {
    if (batch.length === 0) {
      return `${encodeResponse(errorResponse(null, wireError(RpcErrors.INVALID_REQUEST, "invalid request: empty batch")))}\n`;
    }
    const { maxBatch } = this.limits;
    const admitted = batch.slice(0, maxBatch);
    const responses = await Promise.all(admitted.map((message) => this.dispatch(message, ctx)));
    const answered = responses.filter((r): r is JsonRpcResponse => r !== null);
    const encoded = answered.map(encodeResponse);
    if (batch.length > maxBatch) {
      // Encoded once and spliced per call: refusing 20,000 calls must cost little more than reading them.
      const refusal = JSON.stringify(
        wireError(RpcErrors.INVALID_REQUEST, `batch over the limit of ${maxBatch} calls; not run`, {
          code: "BATCH_TOO_LARGE",
          limit: maxBatch,
        }),
      );
      for (let i = maxBatch; i < batch.length; i += 1) {
        // Yield now and then: other connections' requests are served while a huge batch is refused.
        if ((i - maxBatch) % REFUSALS_PER_TURN === REFUSALS_PER_TURN - 1) await nextTurn();
        const member = batch[i];
        // Notifications are never answered, not even past the cap.
        if (member !== null && typeof member === "object" && !Object.hasOwn(member, "id")) continue;
        const rawId = (member as { id?: unknown } | null)?.id;
        const id = isValidId(rawId) ? rawId : null;
        encoded.push(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":${refusal}}`);
      }
    }
    return encoded.length > 0 ? `[${encoded.join(",")}]\n` : null;
  }

  /** Answers one request object; null for notifications, which are never answered. Never rejects. */
  dispatch(message: unknown, ctx: CallContext): MaybePromise<JsonRpcResponse | null> {
    const failed = (error: unknown): JsonRpcResponse => {
      // Only a bug here (a schema that throws, say) gets this far; the client still gets an answer.
      this.log.warn({ connection: ctx.connectionId, err: String(error) }, "request dispatch failed");
      return errorResponse(null, toRpcError(error));
    };
    try {
      const response = this.answer(message, ctx);
      return isPromise(response) ? response.catch(failed) : response;
    } catch (error) {
      return failed(error);
    }
  }

  private answer(message: unknown, ctx: CallContext): MaybePromise<JsonRpcResponse | null> {
    if (message === null || typeof message !== "object" || Array.isArray(message)) {
      return errorResponse(
        null,
        wireError(RpcErrors.INVALID_REQUEST, "invalid request: expected a JSON-RPC request object"),
      );
    }
    const request = message as Record<string, unknown>;
    const isNotification = !Object.hasOwn(request, "id");
    const rawId = request.id;
    if (!isNotification && !isValidId(rawId)) {
      return errorResponse(
        null,
        wireError(RpcErrors.INVALID_REQUEST, 'invalid request: "id" must be a string, a number or null'),
      );
    }
    const id: RequestId = isNotification ? null : (rawId as RequestId);
    if (request.jsonrpc !== "2.0") {
      return errorResponse(
        id,
        wireError(RpcErrors.INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"'),
      );
    }
    const method = request.method;
    if (typeof method !== "string" || method === "") {
      return errorResponse(
        id,
        wireError(RpcErrors.INVALID_REQUEST, 'invalid request: "method" must be a non-empty string'),
      );
    }
    const def = this.methods.get(method);
    if (def === undefined) {
      if (isNotification) return null;
      return errorResponse(
        id,
        wireError(RpcErrors.METHOD_NOT_FOUND, `method not found: "${method}"`, { method }),
      );
    }
    const input = request.params === undefined ? {} : request.params;
    const parsed = def.params.safeParse(input);
    if (!parsed.success) {
      if (isNotification) return null;
      const { message: text, issues } = describeParamsError(parsed.error, input);
      return errorResponse(id, wireError(RpcErrors.INVALID_PARAMS, text, { method, issues }));
    }
    const answered = (result: unknown): JsonRpcResponse | null =>
      isNotification ? null : { jsonrpc: "2.0", id, result: result === undefined ? null : result };
    const threw = (error: unknown): JsonRpcResponse | null => {
      if (!(error instanceof RmxError) && !(error instanceof RpcCallError)) {
        this.log.warn(
          { method, connection: ctx.connectionId, err: error instanceof Error ? error.stack : String(error) },
          "method handler threw",
        );
      }
      return isNotification ? null : errorResponse(id, toRpcError(error));
    };
    try {
      const result = def.handler(parsed.data, ctx);
      return isPromise(result) ? result.then(answered, threw) : answered(result);
    } catch (error) {
      return threw(error);
    }
  }
}

function encodeLine(response: JsonRpcResponse | null): string | null {
  return response === null ? null : `${encodeResponse(response)}\n`;
}
