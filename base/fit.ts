/** Whether a need (bytes) fits what a target has: the verdict the GGUF estimate, the matrix and the CLI share. */
export interface FitVerdict {
  fits: boolean | "unknown";
  need_bytes?: number;
  available_bytes?: number;
  reason: string;
}
