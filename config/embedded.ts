/**
 * The zero-config default: one stub runtime, so `rmxd` with no file starts something that answers like
 * llama-server. Parsed by the same path as a file, so it is validated identically.
 */
export const EMBEDDED_SOURCE = "<embedded default>";

export const embeddedConfigText = `# runtime-matrix embedded default (used when no rmx.yaml is found)
runtimes:
  - id: llama-stub
    adapter: llama-stub
    hardware: cpu
    sandbox: none
    auto_start: true
    args: ["--alias", "stub-model"]
`;
