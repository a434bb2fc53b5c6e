/**
 * The HTTP face of rmxd's ONNX server: KServe v2 / Triton routes over one onnxruntime session. It listens
 * before the session exists, so `/v2/health/live` answers at once and `/v2/health/ready` says 503 "Loading
 * model" until `ready()` is called with the session.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { readCappedBody } from "../../shared/read-body.js";
import { InferCounters } from "./counters.js";
import {
  BadRequest,
  type Feed,
  type OutTensor,
  outputJson,
  parseInferRequest,
  type TensorSpec,
} from "./kserve.js";

/** What the server needs of an onnxruntime session (a narrow face of InferenceSession, for the tests too). */
export interface Session {
  run(feeds: Record<string, Feed>, outputs: string[]): Promise<Record<string, OutTensor>>;
}

export interface ModelFace {
  name: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  maxBodyBytes: number;
}

export interface OnnxServer {
  server: http.Server;
  ready(session: Session): void;
  counters: InferCounters;
}

function send(res: http.ServerResponse, status: number, value: unknown, type = "application/json"): void {
  const body = typeof value === "string" ? value : JSON.stringify(value);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

class TooLarge extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit)
    return Promise.reject(new TooLarge(`body of ${declared} bytes is over the ${limit}-byte limit`));
  return readCappedBody(req, limit, () => new TooLarge(`body is over the ${limit}-byte limit`), "pause");
}

export function createOnnxServer(model: ModelFace): OnnxServer {
  let session: Session | undefined;
  const counters = new InferCounters(model.name);
  const base = `/v2/models/${model.name}`;
  const metadata = {
    name: model.name,
    versions: ["1"],
    platform: "onnxruntime_onnx",
    inputs: model.inputs,
    outputs: model.outputs,
  };

  async function infer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    counters.pending++;
    let ok = false;
    try {
      if (session === undefined)
        return send(res, 503, { error: "Loading model: the onnxruntime session is not created yet" });
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req, model.maxBodyBytes)).toString("utf8"));
      } catch (error) {
        if (error instanceof TooLarge) {
          send(res, 413, { error: error.message });
          req.resume();
          return;
        }
        return send(res, 400, { error: `the body is not JSON: ${(error as Error).message}` });
      }
      const parsed = parseInferRequest(body, model.inputs, model.outputs);
      const computeStarted = performance.now();
      const results = await session.run(parsed.feeds, parsed.outputs);
      counters.computeUs += (performance.now() - computeStarted) * 1000;
      counters.executions++;
      const id = (body as { id?: unknown }).id;
      send(res, 200, {
        model_name: model.name,
        model_version: "1",
        ...(typeof id === "string" ? { id } : {}),
        outputs: parsed.outputs.map((name) => outputJson(name, results[name] as OutTensor)),
      });
      ok = true;
    } catch (error) {
      if (error instanceof BadRequest) return send(res, 400, { error: error.message });
      send(res, 500, { error: `onnxruntime failed: ${(error as Error).message}` });
    } finally {
      counters.pending--;
      if (ok) counters.success++;
      else counters.failure++;
      counters.requestUs += (performance.now() - started) * 1000;
    }
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = `${req.method} ${path}`;
    const ready = session !== undefined;
    const notReady = () =>
      send(res, 503, { error: "Loading model: the onnxruntime session is not created yet" });
    const task = (async () => {
      if (route === "GET /v2/health/live") return send(res, 200, { live: true });
      if (route === "GET /v2/health/ready") return ready ? send(res, 200, { ready: true }) : notReady();
      if (route === "GET /v2")
        return send(res, 200, { name: "rmx-onnx-server", version: "1", extensions: [] });
      if (route === "GET /metrics") return send(res, 200, counters.render(), "text/plain; version=0.0.4");
      const m = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/.exec(path);
      if (m === null) return send(res, 404, { error: `no route ${req.method} ${path.slice(0, 200)}` });
      const name = decodeURIComponent(m[1] as string);
      if (name !== model.name || (m[2] !== undefined && m[2] !== "1"))
        return send(res, 404, {
          error: `unknown model "${name}"${m[2] !== undefined ? ` version ${m[2]}` : ""}: this server serves "${model.name}" version 1`,
        });
      const tail = m[3] ?? "";
      if (req.method === "GET" && tail === "") return send(res, 200, metadata);
      if (req.method === "GET" && tail === "/ready")
        return ready ? send(res, 200, { name: model.name, ready: true }) : notReady();
      if (req.method === "POST" && tail === "/infer") return infer(req, res);
      return send(res, 405, { error: `${req.method} is not allowed on ${base}${tail}` });
    })();
    task.catch(() => res.destroy());
  });
  return {
    server,
    counters,
    ready(s) {
      session = s;
    },
  };
}
