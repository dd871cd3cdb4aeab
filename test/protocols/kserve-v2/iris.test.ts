/**
 * The bundled iris model, unchanged, over KServe V2: health, metadata, inference with JSON and
 * binary tensors both ways, and every way a request can be wrong (400 naming the input, 404 for
 * an unknown model or version, 413, 503 while loading), each answered `{"error": "..."}`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { after, before, test } from "node:test";
import { startServer, type RunningServer } from "../../../src/server.js";
import { irisModelDir, setosaRow, startTestServer } from "../../helpers/server.js";
import { binaryRequest, float32Bytes, infer, readBinaryResponse, readFloat32 } from "./v2-client.js";

const virginicaRow = [6.9, 3.1, 5.4, 2.1];
let server: RunningServer;

before(async () => {
  server = await startTestServer({ modelName: "iris", maxPayloadBytes: 64 * 1024 });
});

after(() => server.close());

function features(rows: readonly (readonly number[])[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ inputs: [{ name: "features", shape: [rows.length, 4], datatype: "FP32", data: rows }], ...extra });
}

async function expectError(response: Response, status: number, message: RegExp): Promise<void> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = (await response.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ["error"], "the protocol's error body: one error string");
  assert.match(String(body["error"]), message);
}

function argmax(row: readonly number[]): number {
  return row.indexOf(Math.max(...row));
}

test("server live, ready and metadata answer as the protocol describes", async () => {
  assert.deepEqual(await (await fetch(`${server.url}/v2/health/live`)).json(), { live: true });
  const ready = await fetch(`${server.url}/v2/health/ready`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true });
  for (const path of ["/v2", "/v2/"]) {
    const metadata = (await (await fetch(`${server.url}${path}`)).json()) as { name: string; version: string; extensions: string[] };
    assert.equal(metadata.name, "sagemaker-byoc-node");
    assert.match(metadata.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(metadata.extensions, ["binary_tensor_data"]);
  }
});

test("model ready and metadata come from the ONNX session: features FP32 [-1, 4] in, probabilities FP32 [-1, 3] out", async () => {
  const ready = await fetch(`${server.url}/v2/models/iris/ready`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { name: "iris", ready: true });
  assert.deepEqual(await (await fetch(`${server.url}/v2/models/iris`)).json(), {
    name: "iris",
    platform: "onnx_onnxv1",
    inputs: [{ name: "features", datatype: "FP32", shape: [-1, 4] }],
    outputs: [{ name: "probabilities", datatype: "FP32", shape: [-1, 3] }],
  });
});

test("JSON inference: two rows in, probabilities [2, 3] out, setosa then virginica, as /invocations answers", async () => {
  const response = await infer(server.url, "iris", features([setosaRow, virginicaRow], { id: "batch-1" }));
  assert.equal(response.status, 200);
  const body = (await response.json()) as { model_name: string; id: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
  assert.equal(body.model_name, "iris");
  assert.equal(body.id, "batch-1");
  const [output] = body.outputs;
  assert.deepEqual({ ...output, data: undefined }, { name: "probabilities", datatype: "FP32", shape: [2, 3], data: undefined });
  const data = output?.data ?? [];
  assert.equal(argmax(data.slice(0, 3)), 0);
  assert.equal(argmax(data.slice(3, 6)), 2);
  const sagemaker = (await (
    await fetch(`${server.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ instances: [setosaRow, virginicaRow] }) })
  ).json()) as { predictions: number[][] };
  assert.deepEqual(data, sagemaker.predictions.flat(), "the same numbers as the SageMaker route");
});

test("binary inference both ways: FP32 bytes in, the probabilities' bytes out, the same values as JSON", async () => {
  const json = (await (await infer(server.url, "iris", features([setosaRow]))).json()) as { outputs: { data: number[] }[] };
  const header = { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } };
  const { body, headers } = binaryRequest(header, [float32Bytes(setosaRow)]);
  const response = await infer(server.url, "iris", body, headers);
  assert.equal(response.status, 200);
  const { header: answer, binary } = await readBinaryResponse(response);
  assert.deepEqual(answer, { model_name: "iris", outputs: [{ name: "probabilities", datatype: "FP32", shape: [1, 3], parameters: { binary_data_size: 12 } }] });
  assert.deepEqual(readFloat32(binary), json.outputs[0]?.data.map(Math.fround), "the same float32 values: JSON writes each with its shortest digits");
});

test("one output asked for as binary and the request otherwise JSON: binary_data on the output wins", async () => {
  const response = await infer(server.url, "iris", features([setosaRow], { outputs: [{ name: "probabilities", parameters: { binary_data: true } }] }));
  const { header, binary } = await readBinaryResponse(response);
  assert.deepEqual(header["outputs"], [{ name: "probabilities", datatype: "FP32", shape: [1, 3], parameters: { binary_data_size: 12 } }]);
  assert.equal(binary.length, 12);
});

test("binary_data false on an output keeps it JSON even when binary_data_output asks for binary", async () => {
  const response = await infer(server.url, "iris", features([setosaRow], { parameters: { binary_data_output: true }, outputs: [{ name: "probabilities", parameters: { binary_data: false } }] }));
  assert.equal(response.headers.get("inference-header-content-length"), null);
  const body = (await response.json()) as { outputs: { data: number[] }[] };
  assert.equal(body.outputs[0]?.data.length, 3);
});

test("a raw binary request (Inference-Header-Content-Length: 0) sizes the batch from the body and answers binary", async () => {
  const response = await infer(server.url, "iris", Buffer.from(float32Bytes([...setosaRow, ...virginicaRow])), { "content-type": "application/octet-stream", "inference-header-content-length": "0" });
  assert.equal(response.status, 200);
  const { header, binary } = await readBinaryResponse(response);
  assert.deepEqual(header["outputs"], [{ name: "probabilities", datatype: "FP32", shape: [2, 3], parameters: { binary_data_size: 24 } }]);
  const values = readFloat32(binary);
  assert.equal(argmax(values.slice(3)), 2);
});

test("a gzip-encoded request is read as /invocations reads one", async () => {
  const response = await infer(server.url, "iris", gzipSync(features([setosaRow])), { "content-encoding": "gzip" });
  assert.equal(response.status, 200);
});

test("inputs that do not fit the model are 400s naming the input and what the model takes", async () => {
  const cases: [string, RegExp][] = [
    [JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP64", data: setosaRow }] }), /^Input "features" has datatype FP64, but the model takes FP32$/],
    [JSON.stringify({ inputs: [{ name: "features", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }] }), /^Input "features" has shape \[1, 3\], but the model takes \[-1, 4\]/],
    [JSON.stringify({ inputs: [{ name: "features", shape: [4], datatype: "FP32", data: setosaRow }] }), /^Input "features" has shape \[4\]/],
    [JSON.stringify({ inputs: [] }), /^Missing input "features": the model's inputs are features$/],
    [JSON.stringify({ inputs: [{ name: "petals", shape: [1, 4], datatype: "FP32", data: setosaRow }] }), /^Unknown input "petals": the model's inputs are features$/],
    [JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [1, 2, 3] }] }), /^input "features" has shape \[1, 4\], which holds 4 values, but "data" has 3$/],
    [JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [1, 2, "three", 4] }] }), /^input "features" expects float32 numbers, got "three"/],
    [JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "BF16", data: setosaRow }] }), /^input "features" has datatype "BF16"/],
    [features([setosaRow], { outputs: [{ name: "scores" }] }), /^Unknown output "scores": the model's outputs are probabilities$/],
    [features([setosaRow], { outputs: [{ name: "probabilities", parameters: { classification: 2 } }] }), /classification extension is not supported/],
    [JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: setosaRow }, { name: "features", shape: [1, 4], datatype: "FP32", data: setosaRow }] }), /^Input "features" is given twice$/],
    [JSON.stringify({ inputs: [{ shape: [1, 4], datatype: "FP32", data: setosaRow }] }), /^inputs\[0\] needs a "name"$/],
    [JSON.stringify({ inputs: [{ name: "features", shape: [1, -4], datatype: "FP32", data: setosaRow }] }), /"shape" must be an array of whole numbers/],
    ['{"inputs": [', /^Invalid JSON in the inference request/],
    [JSON.stringify([1, 2]), /must be a JSON object/],
  ];
  for (const [body, message] of cases) await expectError(await infer(server.url, "iris", body), 400, message);
});

test("binary framing that does not add up is a 400 saying what is off", async () => {
  const header = { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: 16 } }] };
  const extra = binaryRequest(header, [float32Bytes(setosaRow), Uint8Array.from([0])]);
  await expectError(await infer(server.url, "iris", extra.body, extra.headers), 400, /17 bytes follow the inference header, but the inputs' binary_data_size add up to 16/);
  const short = binaryRequest(header, [float32Bytes(setosaRow.slice(0, 3))]);
  await expectError(await infer(server.url, "iris", short.body, short.headers), 400, /binary_data_size 16 runs past the end of the body \(12 bytes left\)/);
  const wrongSize = binaryRequest({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: 12 } }] }, [float32Bytes(setosaRow.slice(0, 3))]);
  await expectError(await infer(server.url, "iris", wrongSize.body, wrongSize.headers), 400, /binary_data_size is 12 bytes, but shape \[1, 4\] of FP32 takes 16/);
  await expectError(await infer(server.url, "iris", extra.body, { "inference-header-content-length": "9999" }), 400, /Inference-Header-Content-Length must be a whole number of bytes from 0 to the body's/);
  await expectError(await infer(server.url, "iris", Buffer.from(float32Bytes([1, 2, 3])), { "inference-header-content-length": "0" }), 400, /raw body of 12 bytes does not fill shape/);
});

test("an unknown model, a version, or an unknown V2 path is a 404 with the protocol's error body", async () => {
  await expectError(await fetch(`${server.url}/v2/models/resnet`), 404, /^Unknown model "resnet": this server serves iris$/);
  await expectError(await fetch(`${server.url}/v2/models/resnet/ready`), 404, /Unknown model "resnet"/);
  await expectError(await infer(server.url, "resnet", features([setosaRow])), 404, /Unknown model "resnet"/);
  await expectError(await fetch(`${server.url}/v2/models/iris/versions/1`), 404, /has no version "1": this server does not version models/);
  await expectError(await infer(`${server.url}`, "iris/versions/2", features([setosaRow])), 404, /has no version "2"/);
  await expectError(await fetch(`${server.url}/v2/repository/index`), 404, /^No KServe V2 route for GET \/v2\/repository\/index$/);
});

test("a body over the payload limit is a 413 with the protocol's error body", async () => {
  await expectError(await infer(server.url, "iris", "x".repeat(65 * 1024)), 413, /exceeds the limit of 65536 bytes/);
});

test("while the model loads, model and server readiness are 503 and inference is refused with 503", async () => {
  const fixture = fileURLToPath(new URL("../../fixtures/handlers/slow-load.ts", import.meta.url));
  const loading = await startServer({ port: 0, host: "127.0.0.1", modelDir: irisModelDir, workers: 1, logLevel: "silent", handlersPath: fixture }, {});
  try {
    const modelReady = await fetch(`${loading.url}/v2/models/model/ready`);
    assert.equal(modelReady.status, 503);
    assert.deepEqual(await modelReady.json(), { name: "model", ready: false });
    assert.equal((await fetch(`${loading.url}/v2/health/ready`)).status, 503);
    assert.deepEqual(await (await fetch(`${loading.url}/v2/health/live`)).json(), { live: true }, "live while loading");
    await expectError(await infer(loading.url, "model", features([setosaRow])), 503, /^Model is loading$/);
    await loading.loaded;
    assert.equal((await fetch(`${loading.url}/v2/models/model/ready`)).status, 200);
  } finally {
    await loading.close();
  }
});
