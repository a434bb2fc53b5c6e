import { createLlamaFamilyAdapter } from "../llama-cpp/adapter.js";
import type { Adapter } from "../types.js";

/** The bundled stub: llama-server's arguments, run by this very node binary. `spec.binary` is not used. */
export const llamaStubAdapter: Adapter = createLlamaFamilyAdapter(
  "llama-stub",
  (_spec, ctx, args) => ({ command: process.execPath, args: [ctx.stubEntry, ...args] }),
  { config: { requires: {}, accepts: ["api_key_env"] }, binaryHint: () => undefined },
);
