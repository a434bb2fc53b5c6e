/**
 * `vllm serve`'s argument parsing as its argparse parser behaves (vllm/entrypoints/openai/cli_args.py,
 * FlexibleArgumentParser): `--flag value` and `--flag=value`, the model as the positional `model_tag`,
 * `--served-model-name` taking one or more names; an unknown flag, a missing value or a bad number exits 2
 * with the usage line and `vllm serve: error: …` on stderr. The stub knows the flags rmxd passes and the
 * common ones a user adds; a real flag it does not know is refused like a typo.
 */

export interface ServeOptions {
  model: string;
  host: string;
  port: number;
  servedModelNames: string[];
  maxModelLen?: number;
  gpuMemoryUtilization: number;
  tensorParallelSize: number;
  maxNumSeqs: number;
  apiKey?: string;
}

export const USAGE = "usage: vllm serve [model_tag] [options]\n";

type Kind = "int" | "float" | "string" | "names" | "flag";

/** Flag → value kind; `-tp`, `-pp`, `-q` are vLLM's short aliases. */
const FLAGS: Readonly<Record<string, Kind>> = {
  "--model": "string",
  "--host": "string",
  "--port": "int",
  "--served-model-name": "names",
  "--max-model-len": "int",
  "--gpu-memory-utilization": "float",
  "--tensor-parallel-size": "int",
  "-tp": "int",
  "--pipeline-parallel-size": "int",
  "-pp": "int",
  "--max-num-seqs": "int",
  "--max-num-batched-tokens": "int",
  "--dtype": "string",
  "--kv-cache-dtype": "string",
  "--quantization": "string",
  "-q": "string",
  "--api-key": "string",
  "--seed": "int",
  "--block-size": "int",
  "--swap-space": "float",
  "--tokenizer": "string",
  "--revision": "string",
  "--download-dir": "string",
  "--chat-template": "string",
  "--generation-config": "string",
  "--uvicorn-log-level": "string",
  "--trust-remote-code": "flag",
  "--enforce-eager": "flag",
  "--enable-prefix-caching": "flag",
  "--disable-log-stats": "flag",
  "--enable-log-requests": "flag",
};

export type ParsedServe =
  | { kind: "run"; options: ServeOptions }
  | { kind: "help" }
  | { kind: "error"; message: string };

const ALIASES: Readonly<Record<string, string>> = {
  "-tp": "--tensor-parallel-size",
  "-pp": "--pipeline-parallel-size",
  "-q": "--quantization",
};

function convert(flag: string, kind: Kind, raw: string): number | string | { error: string } {
  if (kind === "int")
    return /^[+-]?\d+$/.test(raw) ? Number(raw) : { error: `argument ${flag}: invalid int value: '${raw}'` };
  if (kind === "float") {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n)
      ? n
      : { error: `argument ${flag}: invalid float value: '${raw}'` };
  }
  return raw;
}

/** `argv` after `vllm`: `serve MODEL …`. */
export function parseServeArgs(argv: readonly string[]): ParsedServe {
  if (argv[0] !== "serve") {
    return {
      kind: "error",
      message: `argument subparser: invalid choice: '${argv[0] ?? ""}' (choose from 'serve')`,
    };
  }
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const unknown: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    if (!arg.startsWith("-") || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const kind = FLAGS[flag];
    if (kind === undefined) {
      unknown.push(arg);
      continue;
    }
    const name = ALIASES[flag] ?? flag;
    if (kind === "flag") {
      values[name] = true;
      continue;
    }
    if (kind === "names") {
      const names: string[] = eq > 0 ? [arg.slice(eq + 1)] : [];
      while (eq < 0 && i + 1 < argv.length && !(argv[i + 1] as string).startsWith("-"))
        names.push(argv[++i] as string);
      if (names.length === 0)
        return { kind: "error", message: `argument ${flag}: expected at least one argument` };
      values[name] = names;
      continue;
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (raw === undefined || (eq < 0 && raw.startsWith("-") && !/^-\d/.test(raw))) {
      return { kind: "error", message: `argument ${flag}: expected one argument` };
    }
    if (eq < 0) i++;
    const value = convert(flag, kind, raw);
    if (typeof value === "object") return { kind: "error", message: value.error };
    values[name] = value;
  }
  if (positionals.length > 1) unknown.push(...positionals.slice(1));
  if (unknown.length > 0) return { kind: "error", message: `unrecognized arguments: ${unknown.join(" ")}` };
  const model = positionals[0] ?? (values["--model"] as string | undefined);
  if (model === undefined)
    return { kind: "error", message: "the following arguments are required: model_tag" };
  const options: ServeOptions = {
    model,
    host: (values["--host"] as string | undefined) ?? "0.0.0.0",
    port: (values["--port"] as number | undefined) ?? 8000,
    servedModelNames: (values["--served-model-name"] as string[] | undefined) ?? [model],
    gpuMemoryUtilization: (values["--gpu-memory-utilization"] as number | undefined) ?? 0.9,
    tensorParallelSize: (values["--tensor-parallel-size"] as number | undefined) ?? 1,
    maxNumSeqs: (values["--max-num-seqs"] as number | undefined) ?? 256,
  };
  const maxModelLen = values["--max-model-len"] as number | undefined;
  if (maxModelLen !== undefined) options.maxModelLen = maxModelLen;
  const apiKey = (values["--api-key"] as string | undefined) ?? process.env.VLLM_API_KEY;
  if (apiKey !== undefined && apiKey !== "") options.apiKey = apiKey;
  return { kind: "run", options };
}
