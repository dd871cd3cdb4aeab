/**
 * The ceiling for any HTTP server: bare `node:http`, one ONNX session on the main thread, no
 * framework, no logging, no limits. Each request runs the baseline pipeline (bench/baseline.ts):
 * decode the body, `session.run`, encode the answer. `GET /ping` answers 200 once the session
 * is loaded.
 *
 * Usage: `node --import tsx bench/minimal-server.ts <port> <model> <request kind>`.
 */
import { createServer, type ServerResponse } from "node:http";
import { createBaseline } from "./baseline.js";
import type { ModelId, RequestKind } from "./workloads.js";

const [port = "8080", modelId = "iris", kind = "json-1"] = process.argv.slice(2);
const pipeline = await createBaseline(modelId as ModelId, kind as RequestKind);
const pingBody = JSON.stringify({ status: "ready" });

async function answer(body: Buffer, contentType: string, accept: string, response: ServerResponse): Promise<void> {
  try {
    const encoded = await pipeline.encode(await pipeline.run(await pipeline.decode(body, contentType)), accept);
    send(response, 200, encoded.contentType, encoded.body);
  } catch (error) {
    send(response, 400, "application/json", JSON.stringify({ error: (error as Error).message }));
  }
}

function send(response: ServerResponse, status: number, contentType: string, payload: string | Buffer): void {
  response.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(payload) });
  response.end(payload);
}

const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/ping") {
    send(response, 200, "application/json", pingBody);
    return;
  }
  if (request.method !== "POST" || request.url !== "/invocations") {
    send(response, 404, "application/json", JSON.stringify({ error: "not found" }));
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    void answer(body, request.headers["content-type"] ?? "application/json", request.headers.accept ?? "application/json", response);
  });
});
server.listen(Number(port), "127.0.0.1");
process.once("SIGTERM", () => server.close(() => process.exit(0)));
