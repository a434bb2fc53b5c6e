/**
 * Every method of the socket: name -> [params as a client sends them, result]. Params types are derived
 * from the schemas (z.input) with type-only imports, so nothing here loads zod.
 */
import type { SubscribeResult } from "./events.js";
import type { SubscribeParams, UnsubscribeParams } from "./events.schema.js";
import type { HardwareResult } from "./hardware.js";
import type { DashboardLoginResult, HttpTokenResult } from "./http.js";
import type { InferResult } from "./infer.js";
import type { InferParams } from "./infer.schema.js";
import type { MatrixResult } from "./matrix.js";
import type { HardwareGetParams, ModelsInspectParams } from "./matrix.schema.js";
import type { ModelInspectResult, ModelListResult } from "./models.js";
import type {
  ChatResult,
  Lease,
  LeaseResult,
  PinRecord,
  PolicyView,
  QuickActionResult,
  ResolveResult,
} from "./policy.js";
import type {
  ChatParams,
  LeaseAcquireParams,
  LeaseListParams,
  LeaseReleaseParams,
  LeaseRenewParams,
  PinScopeParams,
  PinSetParams,
  PolicySetParams,
  ReloadParams,
  ResolveParams,
  SwitchParams,
} from "./policy.schema.js";
import type {
  HelloResult,
  LogsResult,
  ReloadResult,
  RestoreResult,
  RuntimeStatusResult,
  StartStopResult,
} from "./runtime.js";
import type { LogsParams, NoParams, RestoreParams, StartStopParams } from "./runtime.schema.js";
import type { TranscribeResult } from "./transcribe.js";
import type { TranscribeParams } from "./transcribe.schema.js";

export type {
  HardwareGetParams,
  LogsParams,
  ModelsInspectParams,
  NoParams,
  RestoreParams,
  StartStopParams,
  SubscribeParams,
  UnsubscribeParams,
};

export interface Methods {
  "daemon.hello": [NoParams, HelloResult];
  "runtime.status": [NoParams, RuntimeStatusResult];
  "runtime.restore": [RestoreParams, RestoreResult];
  "runtime.start": [StartStopParams, StartStopResult];
  "runtime.stop": [StartStopParams, StartStopResult];
  "runtime.logs": [LogsParams, LogsResult];
  "events.subscribe": [SubscribeParams, SubscribeResult];
  "events.unsubscribe": [UnsubscribeParams, { subscription: string; removed: boolean }];
  "config.reload": [NoParams, ReloadResult];
  "matrix.get": [NoParams, MatrixResult];
  "hardware.get": [HardwareGetParams | undefined, HardwareResult];
  "models.list": [NoParams, ModelListResult];
  "models.inspect": [ModelsInspectParams, ModelInspectResult];
  "policy.get": [NoParams, PolicyView];
  "policy.set": [PolicySetParams, PolicyView];
  "pin.set": [PinSetParams, PinRecord];
  "pin.list": [NoParams, { pins: PinRecord[] }];
  "pin.clear": [PinScopeParams | undefined, { scope: string; removed: boolean }];
  "runtime.resolve": [ResolveParams | undefined, ResolveResult];
  "lease.acquire": [LeaseAcquireParams, LeaseResult];
  "lease.renew": [LeaseRenewParams, Lease];
  "lease.release": [LeaseReleaseParams, { id: string; released: true }];
  "lease.list": [LeaseListParams | undefined, { leases: Lease[] }];
  "runtime.reload": [ReloadParams, QuickActionResult];
  "runtime.switch": [SwitchParams, QuickActionResult];
  "chat.respond": [ChatParams, ChatResult];
  "transcribe.respond": [TranscribeParams, TranscribeResult];
  "infer.respond": [InferParams, InferResult];
  /** The HTTP gateway's bearer token and address (the socket's own access check decides who may read it). */
  "http.token": [Record<string, never> | undefined, HttpTokenResult];
  /** A one-time dashboard login URL (single use, valid 60 s); DASHBOARD_UNAVAILABLE without a listener. */
  "dashboard.login": [Record<string, never> | undefined, DashboardLoginResult];
}

export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = Methods[M][0];
export type ResultOf<M extends MethodName> = Methods[M][1];
