/**
 * Every method's params schema, by method name: what the daemon's dispatch validates with. Loads zod:
 * only the daemon imports this at run time; the client and the CLI import the types in methods.ts.
 */
import type { z } from "zod";
import { eventsSchemas } from "./events.schema.js";
import { httpSchemas } from "./http.schema.js";
import { inferSchemas } from "./infer.schema.js";
import { matrixParamSchemas } from "./matrix.schema.js";
import type { Methods } from "./methods.js";
import { policySchemas } from "./policy.schema.js";
import { runtimeSchemas } from "./runtime.schema.js";
import { transcribeSchemas } from "./transcribe.schema.js";

export { MAX_TOPICS } from "./events.schema.js";

export const paramSchemas = {
  ...runtimeSchemas,
  ...eventsSchemas,
  ...matrixParamSchemas,
  ...policySchemas,
  ...httpSchemas,
  ...transcribeSchemas,
  ...inferSchemas,
} as const satisfies Record<keyof Methods, z.ZodType>;

export type MethodName = keyof typeof paramSchemas;
/** What a handler receives: the params after validation (defaults applied). */
export type HandlerParams<M extends MethodName> = z.output<(typeof paramSchemas)[M]>;
