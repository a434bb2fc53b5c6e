/**
 * zod without its JIT (`jitless`), set before any schema is built (daemon/main.ts imports this second,
 * after the V8 flags). By default zod compiles a parser per object schema with `new Function` on its
 * first parse (more code and source text on the heap for a few hundred schemas, faster only under a
 * volume of parses the daemon never sees), and to decide whether it may it reads `navigator`, which on
 * Node 21+ loads an internal module for nothing. Validation is the same either way.
 */
import { config } from "zod/v4/core";

config({ jitless: true });
