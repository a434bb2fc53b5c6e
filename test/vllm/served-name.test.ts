/**
 * The name a vLLM runtime serves under is the matrix's model id for it, the name clients send: a runtime
 * whose `model` is a catalog entry's path is served as the entry's id (not the folder's name), as one whose
 * `model` is the id. Chat through the HTTP gateway with `model: qwen-small` works for both.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startGateway } from "../http/support.js";
import { stopAll, tempDir } from "../support/daemon-harness.js";
import { VLLM_STUB, writeHfDir } from "./vllm-support.js";

afterAll(async () => {
  await stopAll();
});

async function config(model: (dir: string) => string): Promise<string> {
  const dir = await writeHfDir(path.join(await tempDir("rmx-vllm-name-"), "Qwen2.5-0.5B-Instruct"));
  return `
models:
  - { id: qwen-small, path: ${dir} }
runtimes:
  - id: qwen
    adapter: vllm
    binary: ${VLLM_STUB}
    model: ${model(dir)}
    auto_start: true
    stop: { grace: 2s }
    env: { VLLM_STUB_LOAD_MS: "100" }
    health: { inference: { enabled: true, interval: 250ms } }
`;
}

describe.runIf(process.platform === "linux")("vLLM served name = the matrix's model id", () => {
  for (const [label, model] of [
    ["model: the catalog entry's path", (dir: string) => dir],
    ["model: the catalog entry's id", () => "qwen-small"],
  ] as const) {
    it(`${label}: served as qwen-small; chat with model qwen-small answers`, async () => {
      const g = await startGateway({ config: await config(model), ready: ["qwen"] });
      const log = await readFile(path.join(g.d.stateDir, "logs", "qwen.log"), "utf8");
      expect(log).toContain("--served-model-name qwen-small");
      const { data, response } = await g
        .openai()
        .chat.completions.create({
          model: "qwen-small",
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 3,
        })
        .withResponse();
      expect(response.headers.get("x-rmx-cell")).toBe("qwen-small@cpu/none");
      expect(data.choices[0]?.message.content).toBe("Hello from the");
      await g.d.stop("SIGTERM");
    });
  }
});
