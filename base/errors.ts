/**
 * Typed errors with stable codes. The string `code` is stable across releases and is what
 * scripts match on; `rpcCode` is the JSON-RPC error number the socket answers with.
 */
export const ErrorCodes = {
  // Configuration and start-up
  CONFIG_INVALID: { rpc: -32010, exit: 1 },
  CONFIG_NOT_FOUND: { rpc: -32011, exit: 1 },
  STATE_CORRUPT: { rpc: -32012, exit: 1 },
  ALREADY_RUNNING: { rpc: -32013, exit: 1 },
  SOCKET_UNSAFE: { rpc: -32014, exit: 1 },
  PATTERN_INVALID: { rpc: -32015, exit: 1 },
  // Runtimes
  RUNTIME_NOT_FOUND: { rpc: -32020, exit: 1 },
  BUDGET_EXHAUSTED: { rpc: -32021, exit: 3 },
  RUNTIME_BUSY: { rpc: -32022, exit: 1 },
  BINARY_NOT_FOUND: { rpc: -32023, exit: 1 },
  BINARY_NOT_EXECUTABLE: { rpc: -32024, exit: 1 },
  MODEL_MISSING: { rpc: -32025, exit: 1 },
  MODEL_INVALID: { rpc: -32026, exit: 1 },
  MODEL_DOES_NOT_FIT: { rpc: -32027, exit: 3 },
  PORT_IN_USE: { rpc: -32028, exit: 1 },
  START_FAILED: { rpc: -32029, exit: 1 },
  SANDBOX_UNAVAILABLE: { rpc: -32030, exit: 3 },
  HARDWARE_UNKNOWN: { rpc: -32031, exit: 1 },
  TIMEOUT: { rpc: -32032, exit: 1 },
  RELOAD_FAILED: { rpc: -32033, exit: 1 },
  // Policy
  NO_ELIGIBLE_CELL: { rpc: -32040, exit: 3 },
  LEASE_NOT_FOUND: { rpc: -32041, exit: 1 },
  LEASE_CAPACITY: { rpc: -32042, exit: 3 },
  LEASE_CAPABILITY: { rpc: -32043, exit: 3 },
  BACKEND_FAILED: { rpc: -32044, exit: 1 },
  // Wire
  LINE_TOO_LONG: { rpc: -32050, exit: 1 },
  TOO_MANY_CONNECTIONS: { rpc: -32051, exit: 1 },
  PEER_REFUSED: { rpc: -32052, exit: 1 },
  PROTOCOL_MISMATCH: { rpc: -32053, exit: 1 },
  DAEMON_NOT_RUNNING: { rpc: -32054, exit: 4 },
  LINE_TIMEOUT: { rpc: -32055, exit: 1 },
  IDLE_TIMEOUT: { rpc: -32056, exit: 1 },
  BATCH_TOO_LARGE: { rpc: -32057, exit: 1 },
  JSON_TOO_DEEP: { rpc: -32058, exit: 1 },
  OUTPUT_BACKLOG: { rpc: -32059, exit: 1 },
  // Trust boundaries and persistence
  PATH_UNTRUSTED: { rpc: -32060, exit: 1 },
  STATE_WRITE_FAILED: { rpc: -32061, exit: 1 },
  LOG_WRITE_FAILED: { rpc: -32062, exit: 1 },
  // Observability
  DASHBOARD_UNAVAILABLE: { rpc: -32070, exit: 1 },
  PROMETHEUS_QUERY_FAILED: { rpc: -32071, exit: 1 },
  BROWSER_OPEN_FAILED: { rpc: -32072, exit: 1 },
  INTERNAL: { rpc: -32603, exit: 1 },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class RmxError extends Error {
  override readonly name = "RmxError";
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    data?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.data = data;
  }

  get rpcCode(): number {
    return ErrorCodes[this.code].rpc;
  }

  get exitCode(): number {
    return ErrorCodes[this.code].exit;
  }

  toJSON(): { code: ErrorCode; message: string; data?: Record<string, unknown> } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export function isRmxError(value: unknown, code?: ErrorCode): value is RmxError {
  return value instanceof RmxError && (code === undefined || value.code === code);
}

/** Exit code for a stable error code; used by the CLI when the daemon answers with an error. */
export function exitCodeFor(code: string | undefined): number {
  if (code !== undefined && code in ErrorCodes) return ErrorCodes[code as ErrorCode].exit;
  return 1;
}
