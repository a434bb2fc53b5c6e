/**
 * The key rmxd holds for a backend: read from the variable `api_key_env` names, in rmxd's own environment,
 * at each use (a daemon restarted with a new key uses it at once). Never log what these return.
 */

import { RmxError } from "../../base/errors.js";

/** The part of a runtime spec that names the key (structural: adapters/ keeps its imports from daemon/ few). */
interface KeyedSpec {
  api_key_env?: string;
}

/** The key, or undefined when no `api_key_env` is set or the variable is unset or empty. */
export function backendKey(spec: KeyedSpec): string | undefined {
  if (spec.api_key_env === undefined) return undefined;
  const key = process.env[spec.api_key_env];
  return key === undefined || key === "" ? undefined : key;
}

/**
 * The key as the backend's own environment variable (`LLAMA_API_KEY`, `VLLM_API_KEY`: never argv, which `ps`
 * prints), or nothing without `api_key_env`. Throws CONFIG_INVALID when `api_key_env` names a variable rmxd
 * does not have: the backend would run open.
 */
export function backendKeyEnv(spec: KeyedSpec & { id: string }, variable: string): Record<string, string> {
  if (spec.api_key_env === undefined) return {};
  const key = backendKey(spec);
  if (key === undefined) {
    throw new RmxError(
      "CONFIG_INVALID",
      `runtime "${spec.id}": api_key_env names ${spec.api_key_env}, which is unset or empty in rmxd's environment; set it where rmxd starts (or remove api_key_env)`,
      { runtime: spec.id, field: "api_key_env", variable: spec.api_key_env },
    );
  }
  return { [variable]: key };
}

/** `Authorization: Bearer <key>` for every request rmxd makes to the backend, or none. */
export function bearerHeaders(spec: KeyedSpec): Record<string, string> {
  const key = backendKey(spec);
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

/** 401 and 403: the backend is up and refuses our key (or wants one we do not send). */
export function refusesKey(status: number | undefined): boolean {
  return status === 401 || status === 403;
}

/** The one wording for a refused key: state reasons, probe outcomes, scrape notes. */
export function keyRefusal(status: number): string {
  return `backend refuses our key (${status})`;
}
