/**
 * The policy switches (allow_fallback, allow_remote, allow_cpu, required_sandbox, restore_after_ms):
 * `policy:` in the config file, overridable over the socket (`policy.set`) until the next config reload.
 */
import type { PolicySpec } from "../../base/spec.js";
import type { PolicySetParams, PolicyView } from "../../ipc/protocol/policy.js";

export class PolicySwitches {
  private switches: PolicySpec;
  private overridden = false;

  constructor(fromFile: PolicySpec) {
    this.switches = { ...fromFile };
  }

  get current(): PolicySpec {
    return this.switches;
  }

  /** A config reload: the file's switches again, socket overrides dropped. */
  reset(fromFile: PolicySpec): void {
    this.switches = { ...fromFile };
    this.overridden = false;
  }

  /** Applies a `policy.set` patch (`required_sandbox: null` removes the requirement). */
  set(patch: PolicySetParams): PolicySpec {
    const next: PolicySpec = { ...this.switches };
    if (patch.allow_fallback !== undefined) next.allow_fallback = patch.allow_fallback;
    if (patch.allow_remote !== undefined) next.allow_remote = patch.allow_remote;
    if (patch.allow_cpu !== undefined) next.allow_cpu = patch.allow_cpu;
    if (patch.restore_after_ms !== undefined) next.restore_after_ms = patch.restore_after_ms;
    if (patch.required_sandbox === null) delete next.required_sandbox;
    else if (patch.required_sandbox !== undefined) next.required_sandbox = patch.required_sandbox;
    this.switches = next;
    this.overridden = true;
    return next;
  }

  view(extra: Pick<PolicyView, "fallback" | "schedules">): PolicyView {
    const view: PolicyView = {
      allow_fallback: this.switches.allow_fallback,
      allow_remote: this.switches.allow_remote,
      allow_cpu: this.switches.allow_cpu,
      restore_after_ms: this.switches.restore_after_ms,
      overridden: this.overridden,
      fallback: extra.fallback,
      schedules: extra.schedules,
    };
    if (this.switches.required_sandbox !== undefined) view.required_sandbox = this.switches.required_sandbox;
    return view;
  }
}
