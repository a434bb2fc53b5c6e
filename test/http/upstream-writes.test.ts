/**
 * How the lean upstream client writes a stream's beginning to the client: the head and a first chunk that
 * came with it in one write (as a plain proxy sends them), and a head that came alone sent at once, so a
 * client sees the stream begin while the model still thinks.
 */
import net from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { closeUpstreamPools } from "../../daemon/http/upstream-pool.js";
import { type Impl, miniGateway, rawBackend, targetOf } from "./upstream-support.js";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  closeUpstreamPools();
});
afterAll(() => closeUpstreamPools());

const STREAM_HEAD =
  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
const CHUNK = "6\r\ndata:1\r\n";

/** A gateway in front of a backend running `script`; a raw client that has sent one request. */
async function setup(script: Parameters<typeof rawBackend>[0], impl: Impl = "lean"): Promise<net.Socket> {
  const backend = await rawBackend(script);
  open.push(backend);
  const gateway = await miniGateway(targetOf(backend.port), impl);
  open.push(gateway);
  const client = net.connect({ host: "127.0.0.1", port: gateway.port });
  open.push({ close: async () => void client.destroy() });
  client.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  return client;
}

const firstData = (client: net.Socket) =>
  new Promise<string>((resolve) => client.once("data", (d: Buffer) => resolve(d.toString("latin1"))));

describe("a stream's first bytes", () => {
  it("leave with the first chunk that came with the head, in one write", async () => {
    const client = await setup((socket) => socket.write(STREAM_HEAD + CHUNK));
    const first = await firstData(client);
    expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(first).toContain("x-rmx-cell: cell-a\r\n");
    expect(first).toContain("data:1");
  });

  it.each(["lean", "node"] as const)(
    "a head that came alone leaves at once, before any chunk (%s)",
    async (impl) => {
      let backendSocket!: net.Socket;
      const client = await setup((socket) => {
        backendSocket = socket;
        socket.write(STREAM_HEAD);
      }, impl);
      // The backend sends its chunk only once the client holds the head: were the head kept back for a
      // chunk, this would wait forever.
      const first = await firstData(client);
      expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
      expect(first).not.toContain("data:1");
      const next = firstData(client);
      backendSocket.write(`${CHUNK}0\r\n\r\n`);
      expect(await next).toContain("data:1");
    },
  );
});
