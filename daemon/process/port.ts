import { createServer } from "node:net";
import { RmxError } from "../../base/errors.js";

/** Asks the kernel for a free TCP port on `host` (listen on 0, read it, close). */
export function allocatePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new RmxError(
          "START_FAILED",
          `cannot allocate a port on ${host}: ${error.message}`,
          { host },
          { cause: error },
        ),
      ),
    );
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : undefined;
      server.close(() =>
        port === undefined
          ? reject(new RmxError("START_FAILED", `cannot allocate a port on ${host}: no address`, { host }))
          : resolve(port),
      );
    });
  });
}

/** Rejects with PORT_IN_USE when something already listens on `host:port`. */
export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) => {
      const data = { host, port, errno: error.code };
      if (error.code === "EADDRINUSE") {
        reject(
          new RmxError(
            "PORT_IN_USE",
            `port ${port} on ${host} is already in use (by another process)`,
            data,
            {
              cause: error,
            },
          ),
        );
      } else {
        reject(
          new RmxError("START_FAILED", `cannot listen on port ${port} on ${host}: ${error.message}`, data, {
            cause: error,
          }),
        );
      }
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}
