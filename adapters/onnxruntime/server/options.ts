/** Command line of rmxd's ONNX model server (`rmx-onnx-server`): what the adapter passes, parsed strictly. */

export const EXIT = {
  ok: 0,
  usage: 2,
  /** The model file cannot be read or onnxruntime cannot create a session from it. */
  model: 3,
  /** `onnxruntime-node` is not installed where this server resolves packages from. */
  runtimeMissing: 4,
  /** `--provider cuda` and onnxruntime has no working CUDA execution provider. */
  cudaUnavailable: 5,
} as const;

export interface ServerOptions {
  model: string;
  /** The KServe model name (`/v2/models/{name}`). */
  name: string;
  host: string;
  port: number;
  provider: "cpu" | "cuda";
  deviceId: number;
  maxBodyBytes: number;
}

export const USAGE =
  "usage: rmx-onnx-server --model FILE.onnx --port PORT [--host 127.0.0.1] [--model-name NAME]\n" +
  "                       [--provider cpu|cuda] [--device-id N] [--max-body-bytes N]\n";

const DEFAULT_MAX_BODY = 64 * 1024 * 1024;

export function defaultModelName(file: string): string {
  return (file.split("/").pop() ?? file).replace(/\.onnx$/i, "") || "model";
}

function whole(flag: string, raw: string | undefined, min: number, max: number): number {
  if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new Error(
      `${flag} needs a whole number from ${min} to ${max} (got ${raw === undefined ? "nothing" : `"${raw}"`})`,
    );
  return Number(raw);
}

/** Throws Error naming the flag for anything it does not take. */
export function parseServerArgs(argv: readonly string[]): ServerOptions {
  const o: Partial<ServerOptions> = {
    host: "127.0.0.1",
    provider: "cpu",
    deviceId: 0,
    maxBodyBytes: DEFAULT_MAX_BODY,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    i++;
    switch (flag) {
      case "--model":
        if (value === undefined) throw new Error("--model needs a file");
        o.model = value;
        break;
      case "--model-name":
        if (value === undefined || !/^[A-Za-z0-9._-]{1,128}$/.test(value))
          throw new Error(`--model-name needs 1 to 128 of A-Z a-z 0-9 . _ - (got "${value ?? ""}")`);
        o.name = value;
        break;
      case "--host":
        if (value === undefined) throw new Error("--host needs an address");
        o.host = value;
        break;
      case "--port":
        o.port = whole(flag, value, 0, 65535);
        break;
      case "--provider":
        if (value !== "cpu" && value !== "cuda")
          throw new Error(`--provider is cpu or cuda (got "${value ?? ""}")`);
        o.provider = value;
        break;
      case "--device-id":
        o.deviceId = whole(flag, value, 0, 1024);
        break;
      case "--max-body-bytes":
        o.maxBodyBytes = whole(flag, value, 1024, 2 ** 31);
        break;
      default:
        throw new Error(`unknown argument "${flag}"`);
    }
  }
  if (o.model === undefined) throw new Error("--model FILE.onnx is required");
  if (o.port === undefined) throw new Error("--port is required");
  return { ...o, name: o.name ?? defaultModelName(o.model) } as ServerOptions;
}
