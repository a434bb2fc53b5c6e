// A backend for the upstream-leg bench (upstream-leg.mjs): a node:http server answering every POST like
// llama-server does: a small JSON answer with Content-Length, or (a body with "stream":true) 20 server-sent
// events, chunked. Prints its port on stdout.
import http from "node:http";

const answer = JSON.stringify({
  id: "x",
  object: "chat.completion",
  choices: [{ message: { content: "hi" } }],
});
const event = `data: ${JSON.stringify({ choices: [{ delta: { content: "tok" } }] })}\n\n`;
const server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
  const parts = [];
  req.on("data", (c) => parts.push(c));
  req.on("end", () => {
    if (!Buffer.concat(parts).includes('"stream":true')) {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
      res.end(answer);
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    let n = 0;
    const next = () => {
      if (n++ === 20) return res.end("data: [DONE]\n\n");
      res.write(event);
      setImmediate(next);
    };
    next();
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
process.on("SIGTERM", () => process.exit(0));
