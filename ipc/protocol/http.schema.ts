/** Params schemas of the HTTP listener's socket methods; daemon-only (zod). */
import * as z from "zod";
import { lazySchemas } from "./lazy-schemas.js";

export const httpSchemas = lazySchemas({
  "http.token": () => z.strictObject({}),
  "dashboard.login": () => z.strictObject({}),
});
