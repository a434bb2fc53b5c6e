/** Params schemas of the HTTP listener's socket methods; daemon-only (zod). */
import { z } from "zod";

export const httpSchemas = {
  "http.token": z.strictObject({}),
  "dashboard.login": z.strictObject({}),
};
