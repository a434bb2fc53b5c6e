/**
 * A table of params schemas, each built the first time a call of its method is validated. zod builds a
 * schema as a tree of objects (each field, each check), and rmxd has forty-odd methods: built at start-up
 * they held ~0.8 MiB of heap for good, though a daemon that only serves its status and the gateway
 * validates a handful of them. Daemon-only (zod).
 */
import * as z from "zod";

export type LazySchemas<T extends Record<string, () => z.ZodType>> = {
  readonly [K in keyof T]: z.ZodLazy<ReturnType<T[K]>>;
};

export function lazySchemas<T extends Record<string, () => z.ZodType>>(makers: T): LazySchemas<T> {
  const table: Record<string, z.ZodType> = {};
  for (const [method, make] of Object.entries(makers)) table[method] = z.lazy(make);
  return table as LazySchemas<T>;
}
