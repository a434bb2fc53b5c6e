import https from "node:https";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { httpRequest } from "../../adapters/shared/http.js";
import { lazyHttps, lazyHttpsAgent } from "../../adapters/shared/lazy-https.js";

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("node:https on first use", () => {
  it("is node's own module, and an agent is made once", () => {
    expect(lazyHttps()).toBe(https);
    const agent = lazyHttpsAgent({ keepAlive: true });
    expect(agent()).toBeInstanceOf(https.Agent);
    expect(agent()).toBe(agent());
  });

  it("an https endpoint is still spoken to: a refused connection is a `refused` outcome naming it", async () => {
    const port = await closedPort();
    const url = `https://127.0.0.1:${port}/health`;
    const result = await httpRequest(url, { timeoutMs: 2000 });
    expect(result.kind).toBe("refused");
    expect(JSON.stringify(result)).toContain("ECONNREFUSED");
  });
});
