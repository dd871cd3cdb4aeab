/**
 * The Open Inference Protocol's own examples, sent as printed (docs/kserve-v2.md links them), to a
 * model built to their shapes: input0 UINT32 [2, 2], input1 BOOL [3], output0 FP32 [3, 2]. No V2
 * client exists on the npm registry or in Debian (Triton's tritonclient is on PyPI only), so
 * these examples stand in for one.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { RunningServer } from "../../../src/server.js";
import { buildSpecExampleModel, writeModel } from "../../helpers/onnx-models.js";
import { startTestServer } from "../../helpers/server.js";
import { binaryRequest, infer, readBinaryResponse, readFloat32 } from "./v2-client.js";

let server: RunningServer;
let modelDir: string;

before(async () => {
  modelDir = await mkdtemp(join(tmpdir(), "v2-spec-"));
  await writeModel(modelDir, "mymodel.onnx", buildSpecExampleModel());
  server = await startTestServer({ modelDir, modelName: "mymodel" });
});

after(async () => {
  await server.close();
  await rm(modelDir, { recursive: true, force: true });
});

/** output0 for input0 [[1, 2], [3, 4]] and input1 [true, false, true]: each row's flag plus the column sums [4, 6]. */
const expectedOutput0 = [5, 7, 4, 6, 5, 7];

test("the metadata of the examples' model lists its tensors with their V2 datatypes and shapes", async () => {
  const response = await fetch(`${server.url}/v2/models/mymodel`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    name: "mymodel",
    platform: "onnx_onnxv1",
    inputs: [
      { name: "input0", datatype: "UINT32", shape: [2, 2] },
      { name: "input1", datatype: "BOOL", shape: [3] },
    ],
    outputs: [{ name: "output0", datatype: "FP32", shape: [3, 2] }],
  });
});

test("the REST example as printed is a 400 naming input1: its BOOL data holds 1 value where shape [3] holds 3", async () => {
  const printed = {
    id: "42",
    inputs: [
      { name: "input0", shape: [2, 2], datatype: "UINT32", data: [1, 2, 3, 4] },
      { name: "input1", shape: [3], datatype: "BOOL", data: [true] },
    ],
    outputs: [{ name: "output0" }],
  };
  const response = await infer(server.url, "mymodel", JSON.stringify(printed));
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), { error: 'input "input1" has shape [3], which holds 3 values, but "data" has 1' });
});

test("the REST example with input1's three values answers output0, FP32 [3, 2], with the request's id", async () => {
  const request = {
    id: "42",
    inputs: [
      { name: "input0", shape: [2, 2], datatype: "UINT32", data: [1, 2, 3, 4] },
      { name: "input1", shape: [3], datatype: "BOOL", data: [true, false, true] },
    ],
    outputs: [{ name: "output0" }],
  };
  const response = await infer(server.url, "mymodel", JSON.stringify(request));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), {
    model_name: "mymodel",
    id: "42",
    outputs: [{ name: "output0", datatype: "FP32", shape: [3, 2], data: expectedOutput0 }],
  });
});

test("the REST example's data may come in its natural nesting as well as flat", async () => {
  const request = {
    inputs: [
      { name: "input0", shape: [2, 2], datatype: "UINT32", data: [[1, 2], [3, 4]] },
      { name: "input1", shape: [3], datatype: "BOOL", data: [true, false, true] },
    ],
  };
  const response = await infer(server.url, "mymodel", JSON.stringify(request));
  const body = (await response.json()) as { outputs: { data: number[] }[] };
  assert.deepEqual(body.outputs[0]?.data, expectedOutput0);
});

test("the binary extension's example: 16 bytes of input0 and 3 of input1 after the header, output0's 24 bytes back as binary", async () => {
  const header = {
    model_name: "mymodel",
    inputs: [
      { name: "input0", shape: [2, 2], datatype: "UINT32", parameters: { binary_data_size: 16 } },
      { name: "input1", shape: [3], datatype: "BOOL", parameters: { binary_data_size: 3 } },
    ],
    outputs: [{ name: "output0", parameters: { binary_data: true } }],
  };
  const input0 = Buffer.alloc(16);
  [1, 2, 3, 4].forEach((value, index) => input0.writeUInt32LE(value, index * 4));
  const input1 = Uint8Array.from([1, 0, 1]);
  const { body, headers } = binaryRequest(header, [input0, input1]);
  assert.equal(body.length - Number(headers["inference-header-content-length"]), 19, "the example's 19 bytes of tensor data");

  const response = await infer(server.url, "mymodel", body, headers);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/octet-stream");
  const { header: answer, binary } = await readBinaryResponse(response);
  assert.deepEqual(answer, { model_name: "mymodel", outputs: [{ name: "output0", datatype: "FP32", shape: [3, 2], parameters: { binary_data_size: 24 } }] });
  assert.equal(binary.length, 24);
  assert.deepEqual(readFloat32(binary), expectedOutput0);
});

test("a BOOL byte other than 0 or 1 is a 400 naming the input and the byte", async () => {
  const header = {
    inputs: [
      { name: "input0", shape: [2, 2], datatype: "UINT32", data: [1, 2, 3, 4] },
      { name: "input1", shape: [3], datatype: "BOOL", parameters: { binary_data_size: 3 } },
    ],
  };
  const { body, headers } = binaryRequest(header, [Uint8Array.from([1, 2, 0])]);
  const response = await infer(server.url, "mymodel", body, headers);
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), { error: 'input "input1" is BOOL: each byte must be 0 or 1, got 2 at 1' });
});

test("a raw binary request is a 400 for a model with two inputs: it can carry only one", async () => {
  const response = await infer(server.url, "mymodel", Buffer.alloc(16), { "content-type": "application/octet-stream", "inference-header-content-length": "0" });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: string };
  assert.match(body.error, /raw binary request .* exactly one declared input/);
});
