import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Allowance, compareExchange, type Recorded } from "./compare.js";
import { type Instance, REAL_SKIP_REASON, send, startInstance, type Target, targets } from "./target.js";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/llama-server-b4748");
const load = (file: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, file), "utf8"));

const PARSE_ERROR = { messagePrefix: "[json.exception.parse_error.101] parse error at line 1, column " };
const NO_EOS_LIMIT = { values: [/finish_reason$/] };

/**
 * Where the stub differs on purpose (each reason is in docs/llama-stub.md). They apply to the stub only:
 * a real server is held to the recording in full.
 */
const STUB_ALLOWANCES: Record<string, Allowance | "skip"> = {
  // nlohmann's lexer wording is reproduced for empty input only; position and detail are approximate.
  "chat form-encoded body": PARSE_ERROR,
  "chat invalid JSON body": PARSE_ERROR,
  "chat stream invalid JSON": PARSE_ERROR,
  "completion invalid JSON": PARSE_ERROR,
  // Without a limit the stub "meets EOS" after 16 tokens instead of filling the context.
  "POST /v1/chat/completions (no max_tokens)": NO_EOS_LIMIT,
  "chat with max_tokens a string": NO_EOS_LIMIT,
  // No context shift: generation stops at the slot's context.
  "n_predict larger than context": { values: [/^\$\.(truncated|stop_type)$/] },
  // A slot's params are the last request's; the stub reports the defaults.
  "GET /slots after requests": { values: [/params\./] },
  "GET /slots during a stream": { values: [/params\./] },
  // Node's HTTP parser answers a malformed request line itself.
  "malformed HTTP request line": "skip",
};

interface Suite {
  file: string;
  args: string[];
  transcripts: Record<string, Recorded>;
}

const SUITES: Suite[] = [
  {
    file: "routes.json",
    args: ["--metrics", "-c", "512", "-np", "2"],
    transcripts: load("routes.json").transcripts,
  },
  {
    file: "errors.json",
    args: ["--metrics", "-c", "512", "-np", "2"],
    transcripts: load("errors.json").transcripts,
  },
  {
    file: "slots.json",
    args: ["--slots", "--metrics", "-c", "512", "-np", "2"],
    transcripts: load("slots.json").transcripts,
  },
  {
    file: "embeddings.json",
    args: ["--embeddings", "-c", "512", "-np", "2"],
    transcripts: Object.fromEntries(
      Object.entries(load("embeddings.json").transcripts).filter(([k]) => !k.startsWith("--pooling")),
    ),
  },
  {
    file: "embeddings.json (--pooling mean)",
    args: ["--embeddings", "--pooling", "mean", "-c", "512", "-np", "2"],
    transcripts: Object.fromEntries(
      Object.entries(load("embeddings.json").transcripts).filter(([k]) => k.startsWith("--pooling")),
    ),
  },
];

/** Replays one exchange; "during a stream" ones run beside a long streaming completion. */
async function replay(instance: Instance, name: string, ex: Recorded) {
  const { method, path: p, headers, body } = ex.request;
  if (!name.includes("during a stream")) return send(instance.endpoint, method, p, headers, body);
  let started: () => void = () => {};
  const first = new Promise<void>((resolve) => (started = resolve));
  const controller = send(
    instance.endpoint,
    "POST",
    "/completion",
    {},
    { prompt: "a", n_predict: 200, stream: true },
    () => started(),
  );
  await first;
  const answer = await send(instance.endpoint, method, p, headers, body);
  await controller;
  return answer;
}

function contract(target: Target) {
  for (const suite of SUITES) {
    describe(`${target.name}: ${suite.file}`, () => {
      let instance: Instance;
      beforeAll(async () => {
        instance = await startInstance(target, suite.args);
      });
      afterAll(async () => instance?.stop());
      for (const [name, ex] of Object.entries(suite.transcripts)) {
        const allowance = target.name === "stub" ? STUB_ALLOWANCES[name] : undefined;
        it.skipIf(allowance === "skip" || !("response" in ex))(name, async () => {
          const answer = await replay(instance, name, ex);
          const diffs = compareExchange(ex, answer, allowance === "skip" ? {} : allowance);
          expect(diffs, `${name}:\n${diffs.join("\n")}`).toEqual([]);
        });
      }
    });
  }
}

const { stub, real } = targets();
describe("llama-server b4748 contract: the stub", () => contract(stub));
if (real !== undefined) describe("llama-server b4748 contract: a real server", () => contract(real));
else describe.skip(REAL_SKIP_REASON, () => it("needs a real server", () => {}));
