/** The types of a forwarded request and its outcome (forward.ts re-exports them; the clients import them here). */
/** Where a request goes, resolved once per runtime endpoint and route (upstream.ts), not per request. */
export interface UpstreamTarget {
  https: boolean;
  hostname: string;
  port: number;
  path: string;
  /** `POST http://127.0.0.1:8080/v1/chat/completions`, for messages. */
  label: string;
  /** The backend's auth headers and the content type; the length is added per request. */
  headers: Readonly<Record<string, string>>;
}

export interface ForwardRequest {
  target: UpstreamTarget;
  body: Buffer;
  /** Longest silence from the backend (connect, headers, or between two chunks). */
  idleTimeoutMs: number;
  /** Extra headers of the answer (CORS); not changed. */
  answerHeaders: Readonly<Record<string, string>>;
  /** The serving cell, answered as X-Rmx-Cell. */
  cell: string;
}

export type ForwardOutcome =
  /** Nothing reached the client: another cell may answer. */
  | { kind: "retry"; status?: number; message: string; timedOut: boolean }
  /** The backend answered this (4xx) and nothing was sent: the caller decides what the client sees. */
  | { kind: "refused"; status: number; body: string }
  | { kind: "done"; status: number; ttfbMs?: number }
  | { kind: "aborted"; ttfbMs?: number }
  | { kind: "broken"; message: string; ttfbMs?: number };
