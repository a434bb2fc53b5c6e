/**
 * Embeddings through the gateway, against the stub held to b4748's recorded answers: a runtime started with
 * `--embeddings --pooling mean` embeds through the OpenAI client (one input and many); one without a pooling
 * answers 400 "Pooling type 'none'", which the gateway turns into 501 embeddings_not_supported naming the fix.
 */
import fs from "node:fs/promises";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopAll, tempDir } from "../support/daemon-harness.js";
import { type Gateway, raw, startGateway } from "./support.js";

const CONFIG = `
runtimes:
  - { id: embedder, adapter: llama-stub, args: ["--alias", "embedder", "--embeddings", "--pooling", "mean"], auto_start: true }
  - { id: nopool, adapter: llama-stub, args: ["--alias", "nopool", "--embeddings"], auto_start: true }
`;

let dir: string;
let g: Gateway;

beforeAll(async () => {
  dir = await tempDir("rmx-http-embed-");
  g = await startGateway({ config: CONFIG, dir, ready: ["embedder", "nopool"] });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await fs.rm(dir, { recursive: true, force: true });
});

describe("embeddings", () => {
  it("embeds one input and an array through the OpenAI client on a pooled cell", async () => {
    const one = await g.openai().embeddings.create({ model: "embedder", input: "hello world" });
    expect(one.object).toBe("list");
    expect(one.data).toHaveLength(1);
    expect(one.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(one.data[0]?.embedding.every((x) => Number.isFinite(x))).toBe(true);
    const many = await g.openai().embeddings.create({ model: "embedder", input: ["a b", "c d e"] });
    expect(many.data.map((d) => d.index)).toEqual([0, 1]);
    expect(many.data[1]?.embedding.length).toBe(one.data[0]?.embedding.length);
    // Equal input, equal vector.
    const again = await g.openai().embeddings.create({ model: "embedder", input: "hello world" });
    expect(again.data[0]?.embedding).toEqual(one.data[0]?.embedding);
  });

  it("names the serving cell on an embedding", async () => {
    const r = await raw(g.listen, {
      method: "POST",
      path: "/v1/embeddings",
      headers: { host: g.listen, authorization: `Bearer ${g.token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "embedder", input: "x" }),
    });
    expect(r.status).toBe(200);
    expect(r.headers["x-rmx-cell"]).toContain("embedder");
  });

  it("turns b4748's 400 'Pooling type none' into 501 embeddings_not_supported naming the fix", async () => {
    const e = (await g
      .openai()
      .embeddings.create({ model: "nopool", input: "hi" })
      .catch((error: unknown) => error)) as InstanceType<typeof OpenAI.APIError>;
    expect(e).toBeInstanceOf(OpenAI.APIError);
    expect(e.status).toBe(501);
    expect(e.code).toBe("embeddings_not_supported");
    expect(e.message).toContain("cannot embed");
    expect(e.message).toContain("Pooling type 'none'");
    expect(e.message).toContain('"--pooling", "mean"');
    expect(e.message).toContain("runtimes[nopool].args");
  });
});
