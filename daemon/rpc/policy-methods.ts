/**
 * Socket methods of the policy feature: pins, policy switches, resolve, leases, quick actions (reload,
 * switch) and chat. Params are strict zod schemas (an unknown key is an error that names it); each handler
 * is a thin call into the policy service, looked up at call time (the socket opens before it is attached).
 */
import { z } from "zod";
import { RmxError } from "../../base/errors.js";
import type { MethodTable } from "../../ipc/server.js";
import type { Lease } from "../policy/lease.js";
import type { PinRecord } from "../policy/pins.js";
import type * as Wire from "../policy/wire.js";

const MAX_NAME = 256;
const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const MAX_TTL_MS = 365 * 24 * 60 * 60 * 1000;

const name = z.string().min(1).max(MAX_NAME);
const ms = (max: number) => z.number().int().min(1).max(max);
const mode = z.enum(["quick", "balanced", "deep", "verified"]);
const sandboxKind = z.enum(["none", "bwrap", "systemd-run"]);
const scope = { agent: name.optional(), project: name.optional() };
const quick = { id: name, wait: z.boolean().optional(), timeout_ms: ms(MAX_TIMEOUT_MS).optional() };

export const policySchemas = {
  "policy.get": z.strictObject({}),
  "policy.set": z.strictObject({
    allow_fallback: z.boolean().optional(),
    allow_remote: z.boolean().optional(),
    allow_cpu: z.boolean().optional(),
    required_sandbox: sandboxKind.nullable().optional(),
    restore_after_ms: z.number().int().min(0).max(MAX_TIMEOUT_MS).optional(),
  }),
  "pin.set": z.strictObject({ ...scope, patterns: z.array(name).min(1).max(64) }),
  "pin.list": z.strictObject({}),
  "pin.clear": z.strictObject(scope),
  "runtime.resolve": z.strictObject({
    ...scope,
    model: name.optional(),
    mode: mode.optional(),
    slo_ms: ms(MAX_TIMEOUT_MS).optional(),
    needs: z.array(name).max(32).optional(),
  }),
  "lease.acquire": z.strictObject({
    target: name,
    capability: name,
    ttl_ms: ms(MAX_TTL_MS),
    holder: name,
    wait_ms: z.number().int().min(0).max(MAX_TIMEOUT_MS).optional(),
    timeout_ms: ms(MAX_TIMEOUT_MS).optional(),
  }),
  "lease.renew": z.strictObject({ id: name, ttl_ms: ms(MAX_TTL_MS).optional() }),
  "lease.release": z.strictObject({ id: name }),
  "lease.list": z.strictObject({ target: name.optional() }),
  "runtime.reload": z.strictObject({ ...quick, model: name.optional() }),
  "runtime.switch": z.strictObject({ ...quick, sandbox: sandboxKind.optional(), hardware: name.optional() }),
  "chat.respond": z.strictObject({
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
} as const;

type Params<M extends keyof typeof policySchemas> = z.output<(typeof policySchemas)[M]>;

/** Drops keys whose value is undefined (zod keeps optional keys absent, but be exact for the service's types). */
function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/** What the policy methods call: the policy service (daemon/policy/service.ts satisfies it). */
export interface PolicyApi {
  view(): Wire.PolicyView;
  setSwitches(patch: Wire.PolicySetParams): Wire.PolicyView;
  setPin(p: Wire.PinSetParams): Promise<PinRecord>;
  clearPin(p: Wire.PinScopeParams): Promise<{ scope: string; removed: boolean }>;
  readonly pins: { list(): PinRecord[] };
  resolve(p: Wire.ResolveParams): Wire.ResolveResult;
  readonly desk: {
    acquire(p: Wire.LeaseAcquireParams, signal?: AbortSignal): Promise<Wire.LeaseResult>;
    release(id: string): Promise<{ id: string; released: true }>;
  };
  readonly leases: { renew(id: string, ttl_ms?: number): Promise<Lease>; list(target?: string): Lease[] };
  readonly quick: {
    reload(p: Wire.ReloadParams): Promise<Wire.QuickActionResult>;
    switchRuntime(p: Wire.SwitchParams): Promise<Wire.QuickActionResult>;
  };
  chat(
    p: Wire.ChatParams,
    notify?: (method: string, payload: unknown) => void,
    signal?: AbortSignal,
  ): Promise<Wire.ChatResult>;
}

export interface PolicyMethodsHost {
  /** Looked up at call time: the socket opens before the policy service is attached. */
  policy(): PolicyApi | undefined;
}

export function policyMethods(host: PolicyMethodsHost): MethodTable {
  const policy = (): PolicyApi => {
    const p = host.policy();
    if (p === undefined) {
      throw new RmxError("RUNTIME_BUSY", "the policy service is not running yet (the daemon is starting)");
    }
    return p;
  };
  const s = policySchemas;
  return {
    "policy.get": { params: s["policy.get"], handler: () => policy().view() },
    "policy.set": {
      params: s["policy.set"],
      handler: (p: Params<"policy.set">) => policy().setSwitches(defined(p)),
    },
    "pin.set": { params: s["pin.set"], handler: (p: Params<"pin.set">) => policy().setPin(defined(p)) },
    "pin.list": { params: s["pin.list"], handler: () => ({ pins: policy().pins.list() }) },
    "pin.clear": {
      params: s["pin.clear"],
      handler: (p: Params<"pin.clear">) => policy().clearPin(defined(p)),
    },
    "runtime.resolve": {
      params: s["runtime.resolve"],
      handler: (p: Params<"runtime.resolve">) => policy().resolve(defined(p)),
    },
    "lease.acquire": {
      params: s["lease.acquire"],
      // The signal aborts when the caller's connection closes: its waiter leaves the queue.
      handler: (p: Params<"lease.acquire">, ctx) => policy().desk.acquire(defined(p), ctx.signal),
    },
    "lease.renew": {
      params: s["lease.renew"],
      handler: (p: Params<"lease.renew">) => policy().leases.renew(p.id, p.ttl_ms),
    },
    "lease.release": {
      params: s["lease.release"],
      handler: (p: Params<"lease.release">) => policy().desk.release(p.id),
    },
    "lease.list": {
      params: s["lease.list"],
      handler: (p: Params<"lease.list">) => ({ leases: policy().leases.list(p.target) }),
    },
    "runtime.reload": {
      params: s["runtime.reload"],
      handler: (p: Params<"runtime.reload">) => policy().quick.reload(defined(p)),
    },
    "runtime.switch": {
      params: s["runtime.switch"],
      handler: (p: Params<"runtime.switch">) => policy().quick.switchRuntime(defined(p)),
    },
    "chat.respond": {
      params: s["chat.respond"],
      handler: (p: Params<"chat.respond">, ctx) =>
        policy().chat(defined(p), (method, payload) => ctx.notify(method, payload), ctx.signal),
    },
  };
}
