/** A resolved RuntimeSpec built from the daemon's own built-in defaults, as a config without overrides yields. */

import type { RuntimeSpec } from "../../base/spec.js";
import {
  BUILTIN_RUNTIME_DEFAULTS,
  BUILTIN_RUNTIME_SCALARS,
  type DeepPartial,
  deepMerge,
} from "../../config/defaults.js";

type Blocks = typeof BUILTIN_RUNTIME_DEFAULTS;

export function defaultRuntimeSpec(
  id: string,
  over: Partial<RuntimeSpec> = {},
  blocks: DeepPartial<Blocks> = {},
): RuntimeSpec {
  return {
    id,
    adapter: "llama-stub",
    args: [],
    env: {},
    sandbox: { kind: "none" },
    ...BUILTIN_RUNTIME_SCALARS,
    ...deepMerge<Blocks>(structuredClone(BUILTIN_RUNTIME_DEFAULTS), blocks),
    ...over,
  };
}
