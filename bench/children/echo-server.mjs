/**
 * The floor for a socket round trip: a bare `net` server on the same socket type as rmxd's.
 *   echo-server.mjs SOCKET           echoes every newline-terminated line back;
 *   echo-server.mjs SOCKET ANSWER    answers every request line with the JSON in file ANSWER as its
 *                                    `result` (the request's id spliced in; no other work), so a large
 *                                    answer's transport and parsing cost can be told from the daemon's.
 */
import fs from "node:fs";
import net from "node:net";

const [socketPath, answerFile] = process.argv.slice(2);
if (!socketPath) {
  process.stderr.write("usage: echo-server.mjs SOCKET [ANSWER_JSON_FILE]\n");
  process.exit(2);
}
const answer = answerFile ? fs.readFileSync(answerFile, "utf8").trim() : undefined;
const ID = /"id":(\d+)/;

try {
  fs.unlinkSync(socketPath);
} catch {}
const server = net.createServer((socket) => {
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk) => {
    buffered += chunk;
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      if (answer === undefined) socket.write(`${line}\n`);
      else socket.write(`{"jsonrpc":"2.0","id":${ID.exec(line)?.[1] ?? "null"},"result":${answer}}\n`);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
    }
  });
  socket.on("error", () => {});
});
server.listen(socketPath);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
