/**
 * The smallest SageMaker container, for measuring what a pipeline hop costs: `GET /ping` answers
 * 200, `POST /invocations` answers the body it got with the Content-Type it got. Bare `node:http`,
 * no logging, so what the pipeline benchmark measures is the gateway's hop, not the container.
 * Usage: `node --import tsx bench/pipeline-echo-container.ts <port>`.
 */
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 8080);

createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    if (request.url === "/ping") {
      response.writeHead(200, { "content-type": "application/json", "content-length": 2 });
      response.end("{}");
      return;
    }
    const body = Buffer.concat(chunks);
    response.writeHead(200, { "content-type": request.headers["content-type"] ?? "application/octet-stream", "content-length": body.length });
    response.end(body);
  });
}).listen(port, "127.0.0.1");
