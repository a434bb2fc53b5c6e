/**
 * A model reference that is not a models[].id is taken as a file path only if it looks like one: it has
 * a path separator, starts with `~`, or ends in `.gguf`. The one rule for the config, the daemon and the CLI.
 */
export function looksLikePath(ref: string): boolean {
  return ref.includes("/") || ref.includes("\\") || ref.startsWith("~") || /\.gguf$/i.test(ref);
}
