/**
 * Socket methods of the policy feature: pins, policy switches, resolve, leases, quick actions (reload,
 * switch), chat and transcription. Params are strict zod schemas (an unknown key is an error that names it); each handler
 * is a thin call into the policy service, looked up at call time (the socket opens before it is attached).
 */

import { RmxError } from "../../base/errors.js";
import type { InferResult } from "../../ipc/protocol/infer.js";
import type * as Wire from "../../ipc/protocol/policy.js";
import type { Lease, PinRecord } from "../../ipc/protocol/policy.js";
import { type HandlerParams, paramSchemas } from "../../ipc/protocol/schemas.js";
import type { TranscribeResult } from "../../ipc/protocol/transcribe.js";
import type { MethodTable } from "../../ipc/server.js";
import type { InferInput } from "../policy/infer.js";
import type { TranscribeInput } from "../policy/transcribe.js";

type Params<M extends keyof typeof paramSchemas> = HandlerParams<M>;

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
  transcribe(input: TranscribeInput): Promise<TranscribeResult>;
  infer(input: InferInput): Promise<InferResult>;
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
  const s = paramSchemas;
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
    "transcribe.respond": {
      params: s["transcribe.respond"],
      handler: (p: Params<"transcribe.respond">) => {
        const { audio_base64, filename, response_format, ...rest } = defined(p);
        return policy().transcribe({
          ...rest,
          audio: Buffer.from(audio_base64, "base64"),
          filename: filename ?? "audio.wav",
          response_format: response_format ?? "json",
        });
      },
    },
    "infer.respond": {
      params: s["infer.respond"],
      handler: (p: Params<"infer.respond">) => policy().infer(defined(p) as InferInput),
    },
  };
}
