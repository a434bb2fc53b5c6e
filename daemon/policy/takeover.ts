/**
 * The pure parts of a transactional reload: which way the new process takes over (beside the old one, or
 * after it), and what of the backend's own output a failure reports.
 */

/** `beside`: the new process starts next to the old one and takes over when ready (no downtime). `replace`: the old one stops first. */
export type TakeoverPath = "beside" | "replace";

/** Memory the old and new specs need and what the new one's hardware offers, as the fit check sees them. */
export interface TakeoverInput {
  /** The new spec's estimate; undefined when it has no GGUF model (nothing to estimate). */
  newNeedBytes: number | undefined;
  /** The running spec's estimate; needed only when both share one GPU. */
  oldNeedBytes: number | undefined;
  target:
    | { kind: "cpu"; free_bytes: number }
    /** `shared`: the old process runs on this same device (its memory is taken). */
    | { kind: "gpu"; vram_bytes: number | undefined; shared: boolean };
}

export interface TakeoverChoice {
  path: TakeoverPath;
  reason: string;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Beside only when the estimate says both fit at once: on CPU the old process's memory is already gone
 * from `free_bytes`; on a shared GPU both estimates must fit its VRAM. Anything unknown means replace:
 * a second copy that does not fit could push the serving one out of memory.
 */
export function chooseTakeover(input: TakeoverInput): TakeoverChoice {
  const need = input.newNeedBytes;
  if (need === undefined) return { path: "replace", reason: "the new spec's memory need is unknown" };
  const t = input.target;
  if (t.kind === "cpu") {
    return need <= t.free_bytes
      ? { path: "beside", reason: `needs ${mib(need)}, ${mib(t.free_bytes)} free beside the old process` }
      : {
          path: "replace",
          reason: `needs ${mib(need)}, only ${mib(t.free_bytes)} free beside the old process`,
        };
  }
  if (t.vram_bytes === undefined) return { path: "replace", reason: "the GPU's memory size is unknown" };
  if (!t.shared) {
    return need <= t.vram_bytes
      ? { path: "beside", reason: `needs ${mib(need)} of ${mib(t.vram_bytes)} on another device` }
      : { path: "replace", reason: `needs ${mib(need)}, the device has ${mib(t.vram_bytes)}` };
  }
  if (input.oldNeedBytes === undefined)
    return { path: "replace", reason: "the running spec's memory need is unknown" };
  const both = need + input.oldNeedBytes;
  return both <= t.vram_bytes
    ? { path: "beside", reason: `both need ${mib(both)} of ${mib(t.vram_bytes)}` }
    : { path: "replace", reason: `both would need ${mib(both)}, the GPU has ${mib(t.vram_bytes)}` };
}

export const BACKEND_LINES = 5;
export const BACKEND_LINE_CHARS = 300;

/** rmxd's own markers in a runtime's log (`--- rmxd: …`): not the backend's words. */
const RMXD_MARKER = /^--- rmxd:/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * The backend's last non-empty lines (at most BACKEND_LINES, each at most BACKEND_LINE_CHARS), control
 * characters (escape sequences, NULs, carriage returns) removed: safe to put in a message and a terminal.
 */
export function backendErrorLines(log: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = log.length - 1; i >= 0 && kept.length < BACKEND_LINES; i--) {
    const raw = log[i] ?? "";
    if (RMXD_MARKER.test(raw)) continue;
    const line = raw
      .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "")
      .replace(CONTROL, "")
      .trim();
    if (line === "") continue;
    kept.push(line.length > BACKEND_LINE_CHARS ? `${line.slice(0, BACKEND_LINE_CHARS - 1)}…` : line);
  }
  return kept.reverse();
}
