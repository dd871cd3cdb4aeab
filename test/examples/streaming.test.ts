import assert from "node:assert/strict";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { after, before, test } from "node:test";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { RunningServer } from "../../src/server.js";
import { irisModelDir, startTestServer } from "../helpers/server.js";

const handlersPath = fileURLToPath(new URL("../../examples/streaming/code/inference.ts", import.meta.url));
let server: RunningServer;
before(async () => {
  server = await startTestServer({ modelDir: irisModelDir, handlersPath, workers: 1 });
  await server.loaded;
});
after(() => server.close());

const rows = 20_000;
const csv = Array.from({ length: rows }, (_, index) => `${4.3 + (index % 36) / 10},${2 + (index % 24) / 10},${1 + (index % 59) / 10},${0.1 + (index % 25) / 10}`).join("\n");

test("the streaming example answers 20,000 CSV rows as JSON Lines in several chunks, one line per row, each with the model's class for it", async () => {
  const { port } = new URL(server.url);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = httpRequest({ host: "127.0.0.1", port, path: "/invocations", method: "POST", headers: { "content-type": "text/csv", accept: "application/jsonlines" } }, resolve);
    outgoing.on("error", reject);
    outgoing.end(csv);
  });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers["transfer-encoding"], "chunked");
  let text = "";
  let reads = 0;
  for await (const chunk of response) {
    text += (chunk as Buffer).toString();
    reads++;
  }
  const lines = text.trimEnd().split("\n").map((line) => JSON.parse(line) as { row: number; class: number; probabilities: number[] });
  assert.equal(lines.length, rows);
  assert.deepEqual(lines.map((line) => line.row), Array.from({ length: rows }, (_, index) => index));
  assert.ok(reads > 1, `the answer came in ${reads} read(s)`);
  // Every row's class is the model's own answer for that row, run here in process.
  const session = await InferenceSession.create(join(irisModelDir, "iris.onnx"));
  try {
    const values = Float32Array.from(csv.split(/[\n,]/).map(Number));
    const outputs = await session.run({ features: new Tensor("float32", values, [rows, 4]) });
    const probabilities = (Object.values(outputs)[0] as Tensor).data as Float32Array;
    for (const line of lines) {
      const own = Array.from(probabilities.subarray(line.row * 3, line.row * 3 + 3));
      assert.equal(line.class, own.indexOf(Math.max(...own)), `row ${line.row}`);
    }
  } finally {
    await session.release();
  }
});
