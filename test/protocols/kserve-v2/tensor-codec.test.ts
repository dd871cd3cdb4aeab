/**
 * The V2 tensor codec on its own (no server): the datatypes and forms the iris and spec-example
 * tests do not reach — 64-bit integers, FP16, BYTES both ways, nesting, predictions of plain
 * values — and the 500 a prediction no tensor holds gets.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InferenceError } from "../../../src/errors.js";
import { parseInferenceRequest } from "../../../src/protocols/kserve-v2/inference-request.js";
import { encodeInferenceResponse, predictionOutputs } from "../../../src/protocols/kserve-v2/inference-response.js";
import { binaryRequest } from "./v2-client.js";

const answer = { modelName: "m", id: undefined, requested: undefined, binaryOutput: false };

function jsonOf(encoded: { body: string | Uint8Array }): { outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] } {
  return JSON.parse(typeof encoded.body === "string" ? encoded.body : Buffer.from(encoded.body).toString("utf8")) as never;
}

test("INT64 and UINT64 keep every digit in JSON, both ways", () => {
  const request = parseInferenceRequest(Buffer.from('{"inputs":[{"name":"ids","shape":[2],"datatype":"INT64","data":[1,-9007199254740991]}]}'), undefined, undefined);
  const [input] = request.inputs;
  assert.deepEqual(input?.data.kind === "tensor" ? [...(input.data.array.data as BigInt64Array)] : undefined, [1n, -9007199254740991n]);
  const big = { dtype: "uint64", shape: [2], data: new BigUint64Array([2n ** 64n - 1n, 7n]) };
  const encoded = encodeInferenceResponse({ ...answer, outputs: predictionOutputs(big, undefined) });
  assert.equal(encoded.body, '{"model_name":"m","outputs":[{"name":"output0","datatype":"UINT64","shape":[2],"data":[18446744073709551615,7]}]}');
});

test("FP16 in JSON becomes half-precision bits, and goes out with its shortest digits", () => {
  const request = parseInferenceRequest(Buffer.from('{"inputs":[{"name":"h","shape":[1,2],"datatype":"FP16","data":[[0.5,0.1]]}]}'), undefined, undefined);
  const array = request.inputs[0]?.data.kind === "tensor" ? request.inputs[0].data.array : assert.fail("a tensor");
  assert.equal(array.dtype, "float16");
  assert.deepEqual(jsonOf(encodeInferenceResponse({ ...answer, outputs: predictionOutputs(array, undefined) })).outputs[0]?.data, [0.5, 0.1]);
});

test("BYTES: strings in JSON and length-prefixed elements in binary are the same bytes; a malformed prefix is a 400", () => {
  const json = parseInferenceRequest(Buffer.from('{"inputs":[{"name":"t","shape":[2],"datatype":"BYTES","data":["héllo",""]}]}'), undefined, undefined);
  const elements = json.inputs[0]?.data.kind === "bytes" ? json.inputs[0].data.elements : assert.fail("bytes");
  assert.deepEqual(elements.map((element) => element.toString("utf8")), ["héllo", ""]);
  const prefixed = Buffer.concat([Buffer.from([6, 0, 0, 0]), Buffer.from("héllo"), Buffer.from([0, 0, 0, 0])]);
  const { body, headers } = binaryRequest({ inputs: [{ name: "t", shape: [2], datatype: "BYTES", parameters: { binary_data_size: prefixed.length } }] }, [prefixed]);
  const binary = parseInferenceRequest(body, headers["inference-header-content-length"], undefined);
  assert.deepEqual(binary.inputs[0]?.data, json.inputs[0]?.data);
  const cut = binaryRequest({ inputs: [{ name: "t", shape: [1], datatype: "BYTES", parameters: { binary_data_size: 6 } }] }, [Buffer.from([9, 0, 0, 0, 1, 2])]);
  assert.throws(() => parseInferenceRequest(cut.body, cut.headers["inference-header-content-length"], undefined), /BYTES element 0 says 9 bytes, but fewer follow/);
  const count = binaryRequest({ inputs: [{ name: "t", shape: [2], datatype: "BYTES", parameters: { binary_data_size: 5 } }] }, [Buffer.from([1, 0, 0, 0, 65])]);
  assert.throws(() => parseInferenceRequest(count.body, count.headers["inference-header-content-length"], undefined), /has 1 BYTES elements in its binary data, but its shape holds 2/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"inputs":[{"name":"t","shape":[1],"datatype":"BYTES","data":[1]}]}'), undefined, undefined), /BYTES: its data must be strings/);
});

test("a raw binary request to a model whose one input is BYTES carries one element", () => {
  const signature = { inputs: [{ name: "text", dtype: "string", shape: ["n"] }], outputs: [] };
  const request = parseInferenceRequest(Buffer.from([2, 0, 0, 0, 104, 105]), "0", signature);
  assert.deepEqual(request.inputs[0]?.shape, [1]);
  assert.equal(request.binaryOutput, true);
  const twoVariable = { inputs: [{ name: "x", dtype: "float32", shape: ["a", "b"] }], outputs: [] };
  assert.throws(() => parseInferenceRequest(Buffer.alloc(8), "0", twoVariable), /2 variable dimensions; a raw binary request allows at most one/);
});

test("data nested otherwise than the shape says is a 400; so is a non-array and a missing one", () => {
  const parse = (input: object): unknown => parseInferenceRequest(Buffer.from(JSON.stringify({ inputs: [input] })), undefined, undefined);
  assert.throws(() => parse({ name: "x", shape: [2, 2], datatype: "FP32", data: [[1, 2, 3], [4]] }), /must be nested as the shape \[2, 2\] says, or flat/);
  assert.throws(() => parse({ name: "x", shape: [1], datatype: "FP32", data: 1 }), /"data" must be an array/);
  assert.throws(() => parse({ name: "x", shape: [1], datatype: "FP32" }), /has no "data" \(nor binary_data_size\)/);
  assert.throws(() => parse({ name: "x", shape: [1], datatype: "FP32", data: [1], parameters: { binary_data_size: 4 } }), /has both "data" and binary_data_size/);
  assert.throws(() => parse({ name: "x", shape: [1], datatype: "FP32", parameters: { binary_data_size: -1 } }), /binary_data_size must be a whole number of bytes/);
  assert.throws(() => parse({ name: "x", shape: [1], datatype: "FP32", data: [1], parameters: 3 }), /parameters of input "x" must be an object/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"inputs":[],"outputs":{}}'), undefined, undefined), /"outputs" must be an array/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"inputs":[],"outputs":[{}]}'), undefined, undefined), /outputs\[0\] needs a "name"/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"inputs":[],"outputs":[{"name":"y","parameters":{"binary_data":1}}]}'), undefined, undefined), /binary_data must be true or false/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"inputs":[],"parameters":{"binary_data_output":"yes"}}'), undefined, undefined), /"binary_data_output" must be true or false/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"id":7,"inputs":[]}'), undefined, undefined), /"id" must be a string/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"inputs":{}}'), undefined, undefined), /"inputs" must be an array/);
  assert.throws(() => parseInferenceRequest(Buffer.from('{"inputs":[7]}'), undefined, undefined), /inputs\[0\] must be an object/);
});

test("plain predictions are typed by their values; typed arrays by their type; BYTES go out binary length-prefixed", () => {
  const outputs = predictionOutputs({ scores: [[0.5, 1]], flags: [true], labels: ["a", "bc"], ids: [1n], raw: new Int16Array([-2]), scalar: 3 }, undefined);
  assert.deepEqual(
    outputs.map(({ name, datatype, shape }) => [name, datatype, shape]),
    [["scores", "FP64", [1, 2]], ["flags", "BOOL", [1]], ["labels", "BYTES", [2]], ["ids", "INT64", [1]], ["raw", "INT16", [1]], ["scalar", "FP64", []]],
  );
  const encoded = encodeInferenceResponse({ ...answer, binaryOutput: true, outputs: outputs.filter((output) => output.name === "labels" || output.name === "flags") });
  const body = Buffer.from(encoded.body as Uint8Array);
  const headerLength = Number(encoded.protocolHeaders?.["inference-header-content-length"]);
  assert.deepEqual([...body.subarray(headerLength)], [1, 1, 0, 0, 0, 97, 2, 0, 0, 0, 98, 99]);
});

test("a prediction no tensor holds is a 500 INVALID_PREDICTION naming the output", () => {
  const invalid = (value: unknown, message: RegExp): void =>
    assert.throws(() => predictionOutputs({ y: value }, undefined), (error: unknown) => error instanceof InferenceError && error.code === "INVALID_PREDICTION" && message.test(error.message));
  invalid([1, "a"], /output "y" holds number and string values/);
  invalid([[1], [2, 3]], /output "y" is not a rectangular array/);
  invalid(new DataView(new ArrayBuffer(4)), /output "y" is a DataView/);
});

test("the model's single output is named as its signature names it; without one, output0", () => {
  const array = { dtype: "float32", shape: [1], data: new Float32Array([1]) };
  assert.equal(predictionOutputs(array, { inputs: [], outputs: [{ name: "probabilities", dtype: "float32", shape: [1] }] })[0]?.name, "probabilities");
  assert.equal(predictionOutputs(array, undefined)[0]?.name, "output0");
});
