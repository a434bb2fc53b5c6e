import path from "node:path";
import { randomHex } from "../../base/entropy.js";
import { sha256Hex } from "../../base/sha256.js";

/**
 * Every backend carries `RMX_TAG=<instance>/<runtime>/<spawn>` in its environment, and so does
 * everything it starts that keeps its environment (grandchildren, `setsid` escapees). The instance
 * is one rmxd: its state dir and uid, so two daemons never sweep each other's processes.
 */
export const TAG_ENV = "RMX_TAG";

/** Keys computed so far (one per state dir and user): every spawn's tag starts with one. */
const instanceKeys = new Map<string, string>();

/** Stable for a state dir and user across daemon restarts: what the start-up sweep looks for. */
export function instanceKey(stateDir: string, uid: number = process.getuid?.() ?? 0): string {
  const name = `${path.resolve(stateDir)}\0${uid}`;
  let key = instanceKeys.get(name);
  if (key === undefined) {
    key = sha256Hex(name).slice(0, 16);
    instanceKeys.set(name, key);
  }
  return key;
}

export interface UnitName {
  /** The daemon's state dir (the instance key is derived from it). */
  stateDir: string;
  runtime: string;
  generation: number;
}

/** One spawn's tag; the random part keeps a restarted daemon's generation 1 apart from the last one's. */
export function spawnTag(unit: UnitName): string {
  return `${instanceKey(unit.stateDir)}/${unit.runtime}/${unit.generation}.${randomHex(4)}`;
}

/** Every tag of this daemon instance starts with this. */
export function instancePrefix(stateDir: string): string {
  return `${instanceKey(stateDir)}/`;
}
