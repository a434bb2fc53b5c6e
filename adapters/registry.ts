import { RmxError } from "../base/errors.js";
import type { AdapterKind } from "../base/spec.js";
import { commandAdapter } from "./command/adapter.js";
import { llamaCppAdapter } from "./llama-cpp/adapter.js";
import { llamaStubAdapter } from "./llama-stub/adapter.js";
import { onnxRuntimeAdapter } from "./onnxruntime/adapter.js";
import { remoteAdapter } from "./remote/adapter.js";
import type { Adapter, AdapterKey } from "./types.js";
import { vllmAdapter } from "./vllm/adapter.js";
import { whisperCppAdapter } from "./whisper-cpp/adapter.js";

/** Every backend rmxd knows, by `adapter:` value. Adding a backend: its folder, and one line here. */
const ADAPTERS: Record<AdapterKind, Adapter> = {
  "llama.cpp": llamaCppAdapter,
  "llama-stub": llamaStubAdapter,
  command: commandAdapter,
  remote: remoteAdapter,
  "whisper.cpp": whisperCppAdapter,
  vllm: vllmAdapter,
  onnxruntime: onnxRuntimeAdapter,
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

/** The `adapter:` values a config may use, in registry order. */
export const ADAPTER_KINDS = Object.keys(ADAPTERS) as [AdapterKind, ...AdapterKind[]];

/** Adapters that accept `key` (for "url applies only to adapter remote"). */
export function adaptersAccepting(key: AdapterKey): AdapterKind[] {
  return ADAPTER_KINDS.filter((kind) => ADAPTERS[kind].config.accepts.includes(key));
}
