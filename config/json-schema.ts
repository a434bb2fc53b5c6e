import * as z from "zod";
import { buildConfigFileSchema } from "./schema.js";

/**
 * JSON Schema (draft 2020-12) of rmx.yaml for editors, e.g. with yaml-language-server:
 * `# yaml-language-server: $schema=./rmx.schema.json`. It describes what a user writes (durations and sizes
 * as numbers or strings); cross-field rules (unique ids, references) are checked by the daemon only.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(buildConfigFileSchema(), { io: "input", target: "draft-2020-12" }) as Record<
    string,
    unknown
  >;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "runtime-matrix configuration (rmx.yaml)",
    ...Object.fromEntries(Object.entries(schema).filter(([key]) => key !== "$schema")),
  };
}
