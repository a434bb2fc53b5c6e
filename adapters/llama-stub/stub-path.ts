import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Absolute path of the compiled stub, `dist/adapters/llama-stub/main.js`. From `dist/adapters/llama-stub/`
 * it is a sibling; from the TypeScript sources (vitest) it is the repository's build output.
 */
export function stubEntryPath(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (here.endsWith(".ts")) return path.resolve(dir, "..", "..", "dist", "adapters", "llama-stub", "main.js");
  return path.join(dir, "main.js");
}
