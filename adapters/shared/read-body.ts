import type http from "node:http";

/**
 * A request's whole body, at most `limit` bytes. Past the limit nothing more is kept and the promise
 * rejects with `tooLarge()`; `then` says what becomes of the request: `destroy` it, or `pause` it so the
 * caller can still answer (413).
 */
export function readCappedBody(
  req: http.IncomingMessage,
  limit: number,
  tooLarge: () => Error,
  then: "destroy" | "pause" = "destroy",
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      over = true;
      reject(tooLarge());
      if (then === "destroy") req.destroy();
      else req.pause();
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
