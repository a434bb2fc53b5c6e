/**
 * The tiny HTTP child every peer supervises: GET /health answers 200. It listens on PORT (ours
 * allocates one) or, when PORT is unset, on an ephemeral port (peers that need no port of their own).
 * Once listening it appends `<id> <epoch ms>` to BENCH_RECORD, so "running" is measured the same way
 * for every supervisor.
 */
import { appendFileSync } from "node:fs";
import http from "node:http";

const id = process.env.BENCH_CHILD_ID ?? String(process.pid);
const port = Number(process.env.PORT ?? 0);

const server = http.createServer((req, res) => {
  const body = req.url === "/health" ? '{"status":"ok"}' : '{"error":"not found"}';
  res.writeHead(req.url === "/health" ? 200 : 404, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
});

server.listen(port, "127.0.0.1", () => {
  if (process.env.BENCH_RECORD) {
    appendFileSync(process.env.BENCH_RECORD, `${id} ${performance.timeOrigin + performance.now()}\n`);
  }
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
