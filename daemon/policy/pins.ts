/**
 * Pins: which matrix cells an agent or project prefers, in order. A pattern names a local cell as
 * `<model>@<hardware>/<sandbox>` (each part a glob where `*` matches any run of characters; missing
 * parts are `*`) or a remote cell as `remote:<model-or-glob>`. Local patterns never match remote cells
 * and remote patterns never match local ones, so remote use is always an explicit choice.
 */

import type { Clock } from "../../base/clock.js";
import { rfc3339, systemClock } from "../../base/clock.js";
import { RmxError } from "../../base/errors.js";
import { compileGlob, type GlobMatcher, globLimitProblem } from "../../base/glob.js";
import type { SandboxKind } from "../../base/spec.js";
import type { PinRecord } from "../../ipc/protocol/policy.js";

export type PinPattern =
  | { kind: "local"; source: string; model: string; hardware: string; sandbox: string }
  | { kind: "remote"; source: string; model: string };

/** What a pattern is matched against; a `MatrixCell` fits. `remote` defaults to `hardware === "remote"`. */
export interface PinTarget {
  model: string;
  hardware: string;
  sandbox: string;
  remote?: boolean;
}

/** Who a pin belongs to. Neither field (or `"*"`) is the daemon-wide default pin. */
export interface PinScope {
  agent?: string;
  project?: string;
}

const SANDBOX_KINDS: readonly SandboxKind[] = ["none", "bwrap", "systemd-run"];
/** `gpu:0,1` too: the hardware of a vLLM cell over a GPU list. */
const HARDWARE_LITERAL = /^(cpu|gpu:\d+(,\d+)*)$/;
const HARDWARE_GLOB = /^[a-z0-9:*]+$/;
const SANDBOX_GLOB = /^[a-z*-]+$/;

function invalid(source: string, why: string): RmxError {
  return new RmxError("CONFIG_INVALID", `pin pattern "${source}": ${why}`, { pattern: source });
}

/** Each part is matched on its own (base/glob.ts), so each part is held to the glob limits. */
function checkLimits(source: string, part: string, where: string): void {
  const problem = globLimitProblem(part);
  if (problem !== undefined) throw invalid(source.slice(0, 60), `the ${where} ${problem}`);
}

function checkModel(source: string, model: string, where: string): void {
  if (model === "") throw invalid(source, `the ${where} is empty`);
  checkLimits(source, model, where);
  if (/[\s\p{Cc}]/u.test(model))
    throw invalid(source, `the ${where} contains whitespace or control characters`);
}

export function parsePinPattern(input: string): PinPattern {
  const source = input.trim();
  if (source === "") throw invalid(input, "empty pattern");
  if (source.startsWith("remote:")) {
    const model = source.slice("remote:".length);
    checkModel(source, model, "model after remote:");
    if (model.includes("@")) {
      throw invalid(
        source,
        "remote patterns name only a model (`remote:<model>` or `remote:*`), not hardware",
      );
    }
    return { kind: "remote", source, model };
  }
  const at = source.indexOf("@");
  if (at !== source.lastIndexOf("@")) throw invalid(source, "more than one '@'");
  const model = at < 0 ? source : source.slice(0, at);
  checkModel(source, model, "model part");
  let hardware = "*";
  let sandbox = "*";
  if (at >= 0) {
    const rest = source.slice(at + 1);
    const slash = rest.indexOf("/");
    if (slash !== rest.lastIndexOf("/")) throw invalid(source, "more than one '/' after '@'");
    hardware = slash < 0 ? rest : rest.slice(0, slash);
    if (slash >= 0) sandbox = rest.slice(slash + 1);
    if (hardware === "") throw invalid(source, "the hardware part is empty (use cpu, gpu:N, gpu:* or *)");
    if (sandbox === "")
      throw invalid(source, "the sandbox part is empty (use none, bwrap, systemd-run or *)");
  }
  checkLimits(source, hardware, "hardware part");
  checkLimits(source, sandbox, "sandbox part");
  const hwOk = hardware.includes("*") ? HARDWARE_GLOB.test(hardware) : HARDWARE_LITERAL.test(hardware);
  if (!hwOk) throw invalid(source, `unknown hardware "${hardware}" (expected cpu, gpu:N, gpu:* or *)`);
  const sbOk = sandbox.includes("*")
    ? SANDBOX_GLOB.test(sandbox)
    : (SANDBOX_KINDS as readonly string[]).includes(sandbox);
  if (!sbOk)
    throw invalid(source, `unknown sandbox "${sandbox}" (expected ${SANDBOX_KINDS.join(", ")} or *)`);
  return { kind: "local", source: `${model}@${hardware}/${sandbox}`, model, hardware, sandbox };
}

const globCache = new Map<string, GlobMatcher>();

/** Linear-time (base/glob.ts): a pattern never becomes a regex. Patterns were checked at parse time. */
function globMatch(glob: string, value: string): boolean {
  if (glob === "*") return true;
  if (!glob.includes("*")) return glob === value;
  let matcher = globCache.get(glob);
  if (matcher === undefined) {
    matcher = compileGlob(glob, "pin pattern");
    if (globCache.size < 1024) globCache.set(glob, matcher);
  }
  return matcher.test(value);
}

export function matchPin(p: PinPattern, cell: PinTarget): boolean {
  const remote = cell.remote ?? cell.hardware === "remote";
  if (p.kind === "remote") return remote && globMatch(p.model, cell.model);
  return (
    !remote &&
    globMatch(p.model, cell.model) &&
    globMatch(p.hardware, cell.hardware) &&
    globMatch(p.sandbox, cell.sandbox)
  );
}

function normaliseName(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  const name = value.trim();
  if (name === "*") return undefined;
  if (name === "" || /[\s\p{Cc}/:]/u.test(name)) {
    throw new RmxError(
      "CONFIG_INVALID",
      `pin ${what} "${value}": must be a non-empty name without spaces, '/' or ':'`,
    );
  }
  return name;
}

function normaliseScope(scope: PinScope): { agent?: string; project?: string } {
  const agent = normaliseName(scope.agent, "agent");
  const project = normaliseName(scope.project, "project");
  return { ...(agent === undefined ? {} : { agent }), ...(project === undefined ? {} : { project }) };
}

/** Stable key of a scope: `*`, `agent:a`, `project:p`, `agent:a/project:p`. Also the fallback tracker's scope key. */
export function pinScopeKey(scope: PinScope): string {
  const { agent, project } = normaliseScope(scope);
  const parts = [
    agent === undefined ? "" : `agent:${agent}`,
    project === undefined ? "" : `project:${project}`,
  ];
  const key = parts.filter((p) => p !== "").join("/");
  return key === "" ? "*" : key;
}

/**
 * The pins, persisted through `persist` after every change (changes are serialised; a failed persist
 * leaves the store unchanged and rejects). Lookup order: agent+project pin, agent pin, project pin,
 * default (`*`) pin.
 */
export class PinStore {
  private readonly byScope = new Map<string, PinRecord>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    initial: PinRecord[],
    private readonly persist: (all: PinRecord[]) => Promise<void>,
    private readonly clock: Clock = systemClock,
  ) {
    for (const record of initial) {
      try {
        const checked = this.build(record, record.patterns, record.set_at);
        this.byScope.set(checked.scope, checked);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new RmxError("STATE_CORRUPT", `stored pin for scope "${record.scope}": ${message}`, {
          scope: record.scope,
        });
      }
    }
  }

  async set(scope: PinScope, patterns: string[]): Promise<PinRecord> {
    const record = this.build(scope, patterns, rfc3339(this.clock.now()));
    return this.serialised(async () => {
      const next = new Map(this.byScope);
      next.set(record.scope, record);
      await this.persist(sortRecords([...next.values()]));
      this.byScope.set(record.scope, record);
      return record;
    });
  }

  async clear(scope: PinScope): Promise<boolean> {
    const key = pinScopeKey(scope);
    return this.serialised(async () => {
      if (!this.byScope.has(key)) return false;
      const next = new Map(this.byScope);
      next.delete(key);
      await this.persist(sortRecords([...next.values()]));
      this.byScope.delete(key);
      return true;
    });
  }

  list(): PinRecord[] {
    return sortRecords([...this.byScope.values()]);
  }

  lookup(scope: PinScope): PinRecord | undefined {
    // Most requests name no scope: the default pin's key, without building the scopes to try.
    if (scope.agent === undefined && scope.project === undefined) return this.byScope.get("*");
    const { agent, project } = normaliseScope(scope);
    const order: PinScope[] = [];
    if (agent !== undefined && project !== undefined) order.push({ agent, project });
    if (agent !== undefined) order.push({ agent });
    if (project !== undefined) order.push({ project });
    order.push({});
    for (const s of order) {
      const found = this.byScope.get(pinScopeKey(s));
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private build(scope: PinScope, patterns: string[], setAt: string): PinRecord {
    const norm = normaliseScope(scope);
    const key = pinScopeKey(norm);
    if (!Array.isArray(patterns) || patterns.length === 0) {
      throw new RmxError("CONFIG_INVALID", `pin for scope "${key}": at least one pattern is required`, {
        scope: key,
      });
    }
    const normalised: string[] = [];
    for (const p of patterns) {
      const source = parsePinPattern(p).source;
      if (!normalised.includes(source)) normalised.push(source);
    }
    return { scope: key, ...norm, patterns: normalised, set_at: setAt };
  }

  private serialised<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op, op);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function sortRecords(records: PinRecord[]): PinRecord[] {
  return records.sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0));
}

/** Stored pins that still parse; each unreadable one (a hand-edited state file) is reported and dropped. */
export function readablePins(
  records: readonly PinRecord[],
  onUnreadable: (error: unknown, record: PinRecord) => void,
): PinRecord[] {
  return records.filter((record) => {
    try {
      new PinStore([record], async () => {});
      return true;
    } catch (error) {
      onUnreadable(error, record);
      return false;
    }
  });
}

/** The scope a socket request names, without absent keys. */
export function scopeOf(p: { agent?: string; project?: string }): PinScope {
  return {
    ...(p.agent !== undefined ? { agent: p.agent } : {}),
    ...(p.project !== undefined ? { project: p.project } : {}),
  };
}

/** What changing a pin tells routing: the scope's sticky choice goes, and every scope is looked at again. */
export interface PinRouting {
  forget(scope: string): void;
  evaluateAll(): void;
}

/** `pin.set`: persisted first, then routing re-evaluates. */
export async function setPin(
  pins: PinStore,
  routing: PinRouting,
  p: PinScope & { patterns: string[] },
): Promise<PinRecord> {
  const record = await pins.set(scopeOf(p), p.patterns);
  routing.forget(record.scope);
  routing.evaluateAll();
  return record;
}

/** `pin.clear`: `removed` is false when the scope had no pin. */
export async function clearPin(
  pins: PinStore,
  routing: PinRouting,
  p: PinScope,
): Promise<{ scope: string; removed: boolean }> {
  const scope = pinScopeKey(scopeOf(p));
  const removed = await pins.clear(scopeOf(p));
  routing.forget(scope);
  return { scope, removed };
}
