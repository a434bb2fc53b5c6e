// The floor for the gateway bench: the least a Node proxy can do — node:http piping each request to the
// backend over a keep-alive pool and the answer back. Prints its port on stdout.
import http from "node:http";

const target = new URL(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: "lifo" });
const server = http.createServer((req, res) => {
  const up = http.request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  up.on("error", () => res.destroy());
  res.on("close", () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
// A clean exit on SIGTERM, so a --cpu-prof profile (BENCH_FLOOR_NODE_ARGS) is written.
process.on("SIGTERM", () => process.exit(0));
