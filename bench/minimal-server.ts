/**
 * The ceiling for any HTTP server: bare `node:http`, one iris session on the main thread, no
 * framework, no logging, no limits. Reads the body, `JSON.parse`, builds the tensor, runs,
 * `JSON.stringify({ predictions })`. `GET /ping` answers 200 once the session is loaded.
 * Usage: `node --import tsx bench/minimal-server.ts <port>`.
 */
import { createServer, type ServerResponse } from "node:http";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { instance, modelPath, sessionOptions } from "./workload.js";

const port = Number(process.argv[2] ?? 8080);
const rowLength = instance.length;
const session = await InferenceSession.create(modelPath, sessionOptions);
const pingBody = JSON.stringify({ status: "ready" });

async function answer(body: Buffer, response: ServerResponse): Promise<void> {
  try {
    const { instances } = JSON.parse(body.toString("utf8")) as { instances: number[][] };
    const features = new Tensor("float32", Float32Array.from(instances.flat()), [instances.length, rowLength]);
    const { probabilities } = await session.run({ features });
    const data = (probabilities as Tensor).data as Float32Array;
    const classes = data.length / instances.length;
    const predictions = instances.map((_, row) => Array.from(data.subarray(row * classes, (row + 1) * classes)));
    send(response, 200, JSON.stringify({ predictions }));
  } catch (error) {
    send(response, 400, JSON.stringify({ error: (error as Error).message }));
  }
}

function send(response: ServerResponse, status: number, payload: string): void {
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  response.end(payload);
}

const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/ping") {
    send(response, 200, pingBody);
    return;
  }
  if (request.method !== "POST" || request.url !== "/invocations") {
    send(response, 404, JSON.stringify({ error: "not found" }));
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => void answer(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), response));
});
server.listen(port, "127.0.0.1");
process.once("SIGTERM", () => server.close(() => process.exit(0)));
