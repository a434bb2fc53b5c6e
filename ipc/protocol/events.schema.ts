/** Params schemas of `events.subscribe` and `events.unsubscribe`. Daemon-only (zod). */
import * as z from "zod";
import { lazySchemas } from "./lazy-schemas.js";
import { MAX_ID_CHARS } from "./runtime.schema.js";

export const MAX_TOPICS = 32;

export const eventsSchemas = lazySchemas({
  "events.subscribe": () =>
    z.strictObject({
      topics: z.array(z.string().min(1).max(MAX_ID_CHARS)).min(1).max(MAX_TOPICS),
    }),
  "events.unsubscribe": () => z.strictObject({ subscription: z.string().min(1).max(MAX_ID_CHARS) }),
});

export type SubscribeParams = z.input<(typeof eventsSchemas)["events.subscribe"]>;
export type UnsubscribeParams = z.input<(typeof eventsSchemas)["events.unsubscribe"]>;
