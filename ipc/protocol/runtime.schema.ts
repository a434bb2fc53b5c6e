/**
 * Params schemas of the runtime methods. Strict: an unknown key is an error that names it, so a typo
 * (`--reset-buget`) never passes silently. Absent params are validated as `{}`. Daemon-only (zod).
 */
import * as z from "zod";
import { lazySchemas } from "./lazy-schemas.js";

export const MAX_ID_CHARS = 256;
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

const runtimeId = z.string().min(1).max(MAX_ID_CHARS);
const timeoutMs = z.number().int().min(1).max(MAX_TIMEOUT_MS);
const noParams = z.strictObject({});

const startStop = z.strictObject({
  id: runtimeId,
  wait: z.boolean().default(false),
  timeout_ms: timeoutMs.optional(),
});

export const runtimeSchemas = lazySchemas({
  "daemon.hello": () => noParams,
  "runtime.status": () => noParams,
  "runtime.restore": () =>
    z.strictObject({
      id: runtimeId,
      restart: z.boolean().default(true),
      reset_budget: z.boolean().default(false),
      wait: z.boolean().default(false),
      timeout_ms: timeoutMs.optional(),
    }),
  "runtime.start": () => startStop,
  "runtime.stop": () => startStop,
  "runtime.logs": () =>
    z.strictObject({
      id: runtimeId,
      lines: z.number().int().min(0).max(10_000).default(100),
      follow: z.boolean().default(false),
    }),
  "config.reload": () => noParams,
});

/** Params with nothing in them: `{}` or absent. */
export type NoParams = Record<string, never> | undefined;
export type RestoreParams = z.input<(typeof runtimeSchemas)["runtime.restore"]>;
export type StartStopParams = z.input<(typeof runtimeSchemas)["runtime.start"]>;
export type LogsParams = z.input<(typeof runtimeSchemas)["runtime.logs"]>;
