/**
 * The wire contract, in one place: the JSON-RPC envelope, every method's params and result, every event
 * payload, every error code. Loads no zod and nothing of the daemon: the client, the CLI and third-party
 * tools import it. The params schemas (zod) live beside their types in `*.schema.ts`, which only the
 * daemon's dispatch imports at run time (through schemas.ts).
 */
export { type ErrorCode, ErrorCodes } from "../../base/errors.js";
export type { FitVerdict } from "../../base/fit.js";
export type * from "./events.js";
export type * from "./gateway.js";
export type * from "./hardware.js";
export type * from "./http.js";
export type * from "./infer.js";
export * from "./jsonrpc.js";
export type * from "./matrix.js";
export type * from "./methods.js";
export type * from "./models.js";
export type * from "./policy.js";
export * from "./runtime.js";
export type * from "./transcribe.js";
