/** What `rmx` exits with; scripts may rely on these. */
export const ExitCode = {
  OK: 0,
  /** Anything that went wrong and is not one of the cases below. */
  ERROR: 1,
  /** Unknown command or flag, missing or malformed argument. */
  USAGE: 2,
  /** The daemon refused: restart budget exhausted, policy refusal (error codes with `exit: 3`). */
  DENIED: 3,
  /** No daemon answers on the socket. */
  NOT_RUNNING: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  error
  2  usage (unknown command or flag, missing or malformed argument)
  3  denied (restart budget exhausted, policy refusal)
  4  daemon not running`;
