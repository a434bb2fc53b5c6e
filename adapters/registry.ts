import { RmxError } from "../base/errors.js";
import type { AdapterKind } from "../base/spec.js";
import { commandAdapter } from "./command/adapter.js";
import { llamaCppAdapter } from "./llama-cpp/adapter.js";
import { llamaStubAdapter } from "./llama-stub/adapter.js";
import { remoteAdapter } from "./remote/adapter.js";
import type { Adapter } from "./types.js";

const ADAPTERS: Record<AdapterKind, Adapter> = {
  "llama.cpp": llamaCppAdapter,
  "llama-stub": llamaStubAdapter,
  command: commandAdapter,
  remote: remoteAdapter,
};

export function getAdapter(kind: AdapterKind): Adapter {
  // Guard the runtime value too: a kind can arrive from a config file or the wire.
  const adapter = Object.hasOwn(ADAPTERS, kind) ? ADAPTERS[kind] : undefined;
  if (adapter === undefined) {
    throw new RmxError("CONFIG_INVALID", `unknown adapter "${String(kind)}"`, {
      adapter: kind,
      known: Object.keys(ADAPTERS),
    });
  }
  return adapter;
}
