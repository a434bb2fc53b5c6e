/**
 * What the client sees when a backend refuses /v1/embeddings. llama-server b4748 answers 404 when it has no
 * such route and 400 `Pooling type 'none' is not OAI compatible` when it was started without a pooling
 * (with or without `--embeddings`; test/fixtures/llama-server-b4748/embeddings.json). Both are the cell's
 * configuration, not the client's request: an OpenAI client reads 400 as "fix your request", so they become
 * 501 `embeddings_not_supported` naming the fix, and another cell may still answer. Any other 4xx is the
 * request's own fault and passes through in OpenAI's shape with the backend's message.
 */
import type { GatewayError } from "./answer.js";

const NO_POOLING = /pooling type 'none'/i;

/** Statuses of /v1/embeddings the gateway reads before the client sees anything. */
export function heldBack(status: number): boolean {
  return status === 400 || status === 404;
}

function backendError(body: string): { message?: string; type?: string } {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; type?: unknown } };
    const e = parsed.error;
    return {
      ...(typeof e?.message === "string" ? { message: e.message } : {}),
      ...(typeof e?.type === "string" ? { type: e.type } : {}),
    };
  } catch {
    return {};
  }
}

export interface Refusal {
  error: GatewayError;
  /** The cell cannot embed at all: another cell may. */
  cellCannotEmbed: boolean;
}

export function embeddingsRefusal(status: number, body: string, cell: string, runtime: string): Refusal {
  const backend = backendError(body);
  const quoted = backend.message === undefined ? "" : `: "${backend.message.slice(0, 200)}"`;
  if (status === 404 || NO_POOLING.test(backend.message ?? ""))
    return {
      cellCannotEmbed: true,
      error: {
        status: 501,
        type: "invalid_request_error",
        code: "embeddings_not_supported",
        message:
          status === 404
            ? `cell ${cell} (runtime ${runtime}) cannot embed: its backend has no /v1/embeddings (start llama-server with --embeddings --pooling mean, or ask another model)`
            : `cell ${cell} (runtime ${runtime}) cannot embed: its backend answered ${status}${quoted} (add "--embeddings", "--pooling", "mean" to runtimes[${runtime}].args, or ask another model)`,
        klass: "client",
      },
    };
  return {
    cellCannotEmbed: false,
    error: {
      status,
      type: backend.type ?? "invalid_request_error",
      code: "upstream_rejected",
      message: `cell ${cell} (runtime ${runtime}) refused the request with ${status}${quoted || `: ${body.slice(0, 200)}`}`,
      klass: "client",
    },
  };
}
