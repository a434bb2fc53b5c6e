// A gateway reduced to rmxd's upstream leg, for the upstream-leg bench (upstream-leg.mjs): a node:http
// server handing each request's body to rmxd's forward() toward a backend, over the lean client (`lean`)
// or node:http (`node`) of the build in DIST. Prints its port on stdout.
//   leg-gateway.mjs DIST lean|node BACKEND_PORT
import http from "node:http";
import path from "node:path";

const [dist, impl, backendPort] = process.argv.slice(2);
const { forward } = await import(path.resolve(dist, "daemon/http/forward.js"));
const run =
  impl === "node" ? (await import(path.resolve(dist, "daemon/http/upstream-node.js"))).forwardNode : forward;
const target = {
  https: false,
  hostname: "127.0.0.1",
  port: Number(backendPort),
  path: "/v1/chat/completions",
  label: `POST http://127.0.0.1:${backendPort}/v1/chat/completions`,
  headers: { "content-type": "application/json" },
};
const server = http.createServer((req, res) => {
  const parts = [];
  req.on("data", (c) => parts.push(c));
  req.on("end", () => {
    const request = {
      target,
      body: Buffer.concat(parts),
      idleTimeoutMs: 60_000,
      answerHeaders: {},
      cell: "c",
    };
    void run(res, request, (status) => status < 400).then((outcome) => {
      if (outcome.kind === "retry" || outcome.kind === "refused") res.writeHead(502).end();
    });
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => process.exit(0));
