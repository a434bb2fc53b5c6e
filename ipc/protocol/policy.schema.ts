/** Params schemas of the policy methods (pins, switches, resolve, leases, quick actions, chat); daemon-only (zod). */
import * as z from "zod";
import { lazySchemas } from "./lazy-schemas.js";

const MAX_NAME = 256;
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const MAX_TTL_MS = 365 * 24 * 60 * 60 * 1000;

const name = z.string().min(1).max(MAX_NAME);
const ms = (max: number) => z.number().int().min(1).max(max);
const mode = z.enum(["quick", "balanced", "deep", "verified"]);
const sandboxKind = z.enum(["none", "bwrap", "systemd-run"]);
const scope = { agent: name.optional(), project: name.optional() };
const quick = { id: name, wait: z.boolean().optional(), timeout_ms: ms(MAX_TIMEOUT_MS).optional() };

export const policySchemas = lazySchemas({
  "policy.get": () => z.strictObject({}),
  "policy.set": () =>
    z.strictObject({
      allow_fallback: z.boolean().optional(),
      allow_remote: z.boolean().optional(),
      allow_cpu: z.boolean().optional(),
      required_sandbox: sandboxKind.nullable().optional(),
      restore_after_ms: z.number().int().min(0).max(MAX_TIMEOUT_MS).optional(),
    }),
  "pin.set": () => z.strictObject({ ...scope, patterns: z.array(name).min(1).max(64) }),
  "pin.list": () => z.strictObject({}),
  "pin.clear": () => z.strictObject(scope),
  "runtime.resolve": () =>
    z.strictObject({
      ...scope,
      model: name.optional(),
      mode: mode.optional(),
      slo_ms: ms(MAX_TIMEOUT_MS).optional(),
      needs: z.array(name).max(32).optional(),
    }),
  "lease.acquire": () =>
    z.strictObject({
      target: name,
      capability: name,
      ttl_ms: ms(MAX_TTL_MS),
      holder: name,
      wait_ms: z.number().int().min(0).max(MAX_TIMEOUT_MS).optional(),
      timeout_ms: ms(MAX_TIMEOUT_MS).optional(),
    }),
  "lease.renew": () => z.strictObject({ id: name, ttl_ms: ms(MAX_TTL_MS).optional() }),
  "lease.release": () => z.strictObject({ id: name }),
  "lease.list": () => z.strictObject({ target: name.optional() }),
  "runtime.reload": () => z.strictObject({ ...quick, model: name.optional() }),
  "runtime.switch": () =>
    z.strictObject({ ...quick, sandbox: sandboxKind.optional(), hardware: name.optional() }),
  "chat.respond": () =>
    z.strictObject({
      messages: z
        .array(
          z.looseObject({
            role: z.string().min(1).max(64),
            content: z.union([z.string(), z.array(z.unknown()), z.null()]),
          }),
        )
        .min(1)
        .max(4096),
      model: name.optional(),
      agent: name.optional(),
      project: name.optional(),
      mode: mode.optional(),
      max_tokens: z.number().int().min(1).max(1_000_000).optional(),
      stream: z.boolean().optional(),
      slo_ms: ms(MAX_TIMEOUT_MS).optional(),
      timeout_ms: ms(MAX_TIMEOUT_MS).optional(),
      request: name.optional(),
    }),
});

type In<M extends keyof typeof policySchemas> = z.input<(typeof policySchemas)[M]>;
export type PolicySetParams = In<"policy.set">;
export type PinSetParams = In<"pin.set">;
export type PinScopeParams = In<"pin.clear">;
export type ResolveParams = In<"runtime.resolve">;
export type LeaseAcquireParams = In<"lease.acquire">;
export type LeaseRenewParams = In<"lease.renew">;
export type LeaseReleaseParams = In<"lease.release">;
export type LeaseListParams = In<"lease.list">;
export type ReloadParams = In<"runtime.reload">;
export type SwitchParams = In<"runtime.switch">;
export type ChatParams = In<"chat.respond">;
export type ChatMessage = ChatParams["messages"][number];
