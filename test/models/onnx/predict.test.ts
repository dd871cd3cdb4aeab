import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { BadRequestError, InferenceError } from "../../../src/errors.js";
import type { OnnxSessions } from "../../../src/models/onnx/load-models.js";
import { predictOnnx, toRunError } from "../../../src/models/onnx/predict.js";
import { isNDArray, type NDArray } from "../../../src/tensor/ndarray.js";
import { buildAddModel, buildIdentityModel, buildTwoOutputModel, OCR_MODELS } from "../../helpers/onnx-models.js";

const options = { intraOpNumThreads: 1 } as const;
const sessions: InferenceSession[] = [];

async function load(model: string | Uint8Array): Promise<InferenceSession> {
  const session = typeof model === "string" ? await InferenceSession.create(model, options) : await InferenceSession.create(model, options);
  sessions.push(session);
  return session;
}

/** predictOnnx's result when the model has one output. */
async function predictOne(model: OnnxSessions, input: unknown, targetModel?: string): Promise<NDArray> {
  const prediction = await predictOnnx(model, input, { targetModel });
  assert.ok(isNDArray(prediction), "expected a single NDArray");
  return prediction;
}

/** Asserts that predicting `input` is rejected as a 400 whose message is `message`. */
async function rejectsAsBadRequest(model: OnnxSessions, input: unknown, message: string | RegExp, targetModel?: string): Promise<void> {
  await assert.rejects(predictOnnx(model, input, { targetModel }), (error: unknown) => {
    assert.ok(error instanceof BadRequestError, `expected a BadRequestError, got ${String(error)}`);
    assert.equal(error.statusCode, 400);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

let classifier: InferenceSession;
let add: InferenceSession;
let floats: InferenceSession;
let fixed: InferenceSession;
let int64: InferenceSession;
let int8: InferenceSession;
let bools: InferenceSession;
let halves: InferenceSession;
let strings: InferenceSession;
let twoOutputs: InferenceSession;

before(async () => {
  classifier = await load(OCR_MODELS.classifier);
  add = await load(buildAddModel());
  floats = await load(buildIdentityModel("float32", ["batch", 4]));
  fixed = await load(buildIdentityModel("float32", [1, 4]));
  int64 = await load(buildIdentityModel("int64", ["batch", 2]));
  int8 = await load(buildIdentityModel("int8", ["n"]));
  bools = await load(buildIdentityModel("bool", ["n"]));
  halves = await load(buildIdentityModel("float16", ["n"]));
  strings = await load(buildIdentityModel("string", ["n"]));
  twoOutputs = await load(buildTwoOutputModel());
});

after(async () => {
  await Promise.all(sessions.map((session) => session.release()));
});

describe("predictOnnx input forms", () => {
  it("runs the real PaddleOCR classifier on an NDArray image", async () => {
    const image: NDArray = { dtype: "float32", shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192).fill(0.5) };
    const prediction = await predictOne(classifier, image);
    assert.equal(prediction.dtype, "float32");
    assert.deepEqual(prediction.shape, [1, 2]);
    const [up = 0, down = 0] = prediction.data as Float32Array;
    assert.ok(Math.abs(up + down - 1) < 1e-5, "softmax probabilities sum to 1");
  });

  it("feeds nested number arrays with their inferred shape", async () => {
    const prediction = await predictOne(floats, [
      [5.1, 3.5, 1.4, 0.2],
      [6.2, 2.9, 4.3, 1.3],
    ]);
    assert.deepEqual(prediction.shape, [2, 4]);
    assert.deepEqual(Array.from(prediction.data as Float32Array), [5.1, 3.5, 1.4, 0.2, 6.2, 2.9, 4.3, 1.3].map(Math.fround));
  });

  it("adds a batch dimension of 1 to a single row", async () => {
    assert.deepEqual((await predictOne(floats, [5.1, 3.5, 1.4, 0.2])).shape, [1, 4]);
    assert.deepEqual((await predictOne(fixed, [5.1, 3.5, 1.4, 0.2])).shape, [1, 4]);
    const image: NDArray = { dtype: "float32", shape: [3, 48, 192], data: new Float32Array(3 * 48 * 192) };
    assert.deepEqual((await predictOne(classifier, image)).shape, [1, 2]);
  });

  it("adds a batch dimension to a scalar for a rank-1 input", async () => {
    const prediction = await predictOne(int8, 7);
    assert.deepEqual(prediction.shape, [1]);
    assert.deepEqual(Array.from(prediction.data as Int8Array), [7]);
  });

  it("maps an object keyed by input name onto a multi-input model", async () => {
    const prediction = await predictOne(add, {
      a: [[1, 2, 3]],
      b: { dtype: "float64", shape: [1, 3], data: new Float64Array([10, 20, 30]) },
    });
    assert.deepEqual(prediction.shape, [1, 3]);
    assert.deepEqual(Array.from(prediction.data as Float32Array), [11, 22, 33]);
  });

  it("accepts an object keyed by the only input's name", async () => {
    assert.deepEqual((await predictOne(floats, { x: [[1, 2, 3, 4]] })).shape, [1, 4]);
  });
});

describe("predictOnnx dtype conversion", () => {
  it("converts float64 NDArrays, as .npy files bring them, to float32", async () => {
    const prediction = await predictOne(floats, { dtype: "float64", shape: [1, 4], data: new Float64Array([0.1, 0.2, 0.3, 0.4]) });
    assert.equal(prediction.dtype, "float32");
    assert.deepEqual(Array.from(prediction.data as Float32Array), [0.1, 0.2, 0.3, 0.4].map(Math.fround));
  });

  it("converts integral numbers and bigints to int64", async () => {
    const prediction = await predictOne(int64, [[1, -2], [2n ** 62n, 9_007_199_254_740_991]]);
    assert.equal(prediction.dtype, "int64");
    assert.ok(prediction.data instanceof BigInt64Array);
    assert.deepEqual(Array.from(prediction.data), [1n, -2n, 2n ** 62n, 9_007_199_254_740_991n]);
  });

  it("converts an int32 NDArray to int64", async () => {
    const prediction = await predictOne(int64, { dtype: "int32", shape: [1, 2], data: new Int32Array([3, -4]) });
    assert.deepEqual(Array.from(prediction.data as BigInt64Array), [3n, -4n]);
  });

  it("converts true, false, 0 and 1 to bool", async () => {
    const prediction = await predictOne(bools, [true, false, 1, 0]);
    assert.equal(prediction.dtype, "bool");
    assert.deepEqual(Array.from(prediction.data as Uint8Array), [1, 0, 1, 0]);
  });

  it("converts numbers to float16 bits and returns float16 outputs as a Uint16Array of bits", async () => {
    const prediction = await predictOne(halves, [1, -2, 0.5, 65504]);
    assert.equal(prediction.dtype, "float16");
    assert.ok(prediction.data instanceof Uint16Array, `got ${prediction.data.constructor.name}`);
    assert.deepEqual(Array.from(prediction.data), [0x3c00, 0xc000, 0x3800, 0x7bff]);
  });

  it("feeds float16 NDArrays as they are", async () => {
    const prediction = await predictOne(halves, { dtype: "float16", shape: [2], data: new Uint16Array([0x3c00, 0x4000]) });
    assert.deepEqual(Array.from(prediction.data as Uint16Array), [0x3c00, 0x4000]);
  });

  it("feeds strings to string inputs", async () => {
    const prediction = await predictOne(strings, ["hello", "", "wörld"]);
    assert.equal(prediction.dtype, "string");
    assert.deepEqual(prediction.data, ["hello", "", "wörld"]);
  });
});

describe("predictOnnx rejects bad requests with 400", () => {
  it("a ragged nested array, naming where", async () => {
    await rejectsAsBadRequest(floats, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11]], 'input "x": ragged array at [2]: expected 4 values, got 3');
    await rejectsAsBadRequest(floats, [[1, 2, 3, 4], 5], 'input "x": ragged array at [1]: expected a list of 4 values, got a single value');
    await rejectsAsBadRequest(floats, [[1, 2, 3, [4]]], 'input "x": ragged array at [0, 3]: expected a single value, got a list of 1');
  });

  it("non-numeric values for a float input", async () => {
    await rejectsAsBadRequest(floats, [[1, 2, "three", 4]], 'input "x" expects float32 numbers, got "three" at [0, 2]');
    await rejectsAsBadRequest(floats, [[1, 2, null, 4]], 'input "x" expects float32 numbers, got null at [0, 2]');
    await rejectsAsBadRequest(floats, [[1, 2, true, 4]], 'input "x" expects float32 numbers, got true at [0, 2]');
    await rejectsAsBadRequest(floats, [[1, 2, { value: 3 }, 4]], 'input "x" expects float32 numbers, got an object at [0, 2]');
  });

  it("values an integer input cannot hold", async () => {
    await rejectsAsBadRequest(int64, [[1, 1.5]], /^input "x" expects int64 integers from -9223372036854775808 to 9223372036854775807, got 1\.5 at \[0, 1\]$/);
    await rejectsAsBadRequest(int64, [[1, 2 ** 64]], /got 18446744073709552000 at \[0, 1\]$/);
    await rejectsAsBadRequest(int8, [1, 300], 'input "x" expects int8 integers from -128 to 127, got 300 at [1]');
    await rejectsAsBadRequest(int8, { dtype: "float32", shape: [2], data: new Float32Array([1, 2.5]) }, /got 2\.5 at \[1\]$/);
  });

  it("values a bool input cannot hold", async () => {
    await rejectsAsBadRequest(bools, [true, 2], 'input "x" expects bool values (true, false, 0 or 1), got 2 at [1]');
  });

  it("strings for a number input and numbers for a string input", async () => {
    await rejectsAsBadRequest(floats, { dtype: "string", shape: [1, 4], data: ["a", "b", "c", "d"] }, /expects float32 numbers, got "a" at \[0, 0\]$/);
    await rejectsAsBadRequest(strings, [1, 2], 'input "x" expects strings, got 1 at [0]');
  });

  it("a wrong fixed dimension, before running", async () => {
    await rejectsAsBadRequest(fixed, [[1, 2, 3, 4, 5]], 'input "x" expects shape [1, 4], got [1, 5]');
    await rejectsAsBadRequest(fixed, [[1, 2, 3, 4], [5, 6, 7, 8]], 'input "x" expects shape [1, 4], got [2, 4]');
    await rejectsAsBadRequest(floats, [[1, 2, 3]], 'input "x" expects shape [batch, 4], got [1, 3]');
    await rejectsAsBadRequest(floats, [1, 2, 3], 'input "x" expects shape [batch, 4], got [3]');
  });

  it("a wrong rank, without walking deeply nested arrays", async () => {
    await rejectsAsBadRequest(floats, [[[1, 2, 3, 4]]], 'input "x" expects shape [batch, 4], got [1, 1, 4]');
    let hostile: unknown = [1];
    for (let depth = 0; depth < 100_000; depth++) hostile = [hostile];
    await rejectsAsBadRequest(floats, hostile, 'input "x" expects shape [batch, 4], got an array of rank 100001');
    const image: NDArray = { dtype: "float32", shape: [48, 192], data: new Float32Array(48 * 192) };
    await rejectsAsBadRequest(classifier, image, /^input "x" expects shape \[p2o\.DynamicDimension\.0, 3, p2o\.DynamicDimension\.1, p2o\.DynamicDimension\.2\], got \[48, 192\]$/);
  });

  it("inputs that disagree on a shared dimension", async () => {
    await rejectsAsBadRequest(add, { a: [[1, 2, 3], [4, 5, 6]], b: [[1, 2, 3]] }, 'Inputs "a" and "b" must agree on dimension "batch": got 2 and 1');
  });

  it("a missing input, naming it and the expected names", async () => {
    await rejectsAsBadRequest(add, { a: [[1, 2, 3]] }, `Missing input "b": the model's inputs are a, b`);
  });

  it("an unknown input name", async () => {
    await rejectsAsBadRequest(add, { a: [[1, 2, 3]], b: [[1, 2, 3]], c: [[1, 2, 3]] }, `Unknown input "c": the model's inputs are a, b`);
    await rejectsAsBadRequest(floats, { instances: [[1, 2, 3, 4]] }, `Unknown input "instances": the model's inputs are x`);
  });

  it("a bare array for a model with several inputs", async () => {
    await rejectsAsBadRequest(add, [[1, 2, 3]], "The model has 2 inputs (a, b): send an object with one entry per input name");
  });

  it("raw bytes, as application/octet-stream decodes to", async () => {
    await rejectsAsBadRequest(floats, Buffer.from([1, 2, 3, 4]), /^Raw bytes cannot be fed to the model: send application\/json, text\/csv or application\/x-npy/);
    await rejectsAsBadRequest(add, { a: Buffer.from([1, 2, 3]), b: [[1, 2, 3]] }, /^Raw bytes cannot be fed to input "a"/);
  });

  it("a body that is neither an array, an NDArray nor an object", async () => {
    await rejectsAsBadRequest(floats, null, /^Unsupported input: expected an array of numbers, an NDArray or an object keyed by input name \(x\)$/);
  });
});

describe("predictOnnx server-side problems stay 500", () => {
  it("an NDArray whose data does not fit its shape", async () => {
    const broken: NDArray = { dtype: "float32", shape: [1, 4], data: new Float32Array(3) };
    await assert.rejects(predictOnnx(floats, broken, {}), (error: unknown) => {
      assert.ok(error instanceof InferenceError && !(error instanceof BadRequestError));
      assert.equal(error.statusCode, 500);
      assert.equal(error.message, 'input "x" is an NDArray of shape [1, 4] with 3 values instead of 4');
      return true;
    });
  });

  it("an NDArray whose data is not its dtype's storage", async () => {
    const broken = { dtype: "float32", shape: [1, 4], data: new Float64Array(4) } as unknown as NDArray;
    await assert.rejects(predictOnnx(floats, broken, {}), /is a float32 NDArray whose data is a Float64Array, not a Float32Array/);
  });

  it("a bare typed array, which has no shape", async () => {
    await assert.rejects(predictOnnx(floats, new Float32Array(4), {}), (error: unknown) => {
      assert.ok(error instanceof InferenceError && error.statusCode === 500);
      assert.match(error.message, /bare Float32Array.*wrap it in an NDArray/);
      return true;
    });
  });

  it("a kernel failing inside the model", async () => {
    const image: NDArray = { dtype: "float32", shape: [0, 3, 48, 192], data: new Float32Array(0) };
    await assert.rejects(predictOnnx(classifier, image, {}), (error: unknown) => {
      assert.ok(error instanceof InferenceError && !(error instanceof BadRequestError));
      assert.equal(error.statusCode, 500);
      assert.match(error.message, /^ONNX model run failed: Non-zero status code returned while running Reshape node/);
      return true;
    });
  });
});

describe("toRunError", () => {
  async function runError(session: InferenceSession, feeds: Record<string, Tensor>): Promise<unknown> {
    return session.run(feeds).then(
      () => assert.fail("the run should fail"),
      (error: unknown) => error,
    );
  }

  it("turns onnxruntime's input validation errors into 400s", async () => {
    const wrongDim = await runError(fixed, { x: new Tensor("float32", new Float32Array(5), [1, 5]) });
    const wrongRank = await runError(fixed, { x: new Tensor("float32", new Float32Array(4), [4]) });
    const wrongType = await runError(fixed, { x: new Tensor("float64", new Float64Array(4), [1, 4]) });
    const missing = await runError(add, { a: new Tensor("float32", new Float32Array(3), [1, 3]) });
    for (const error of [wrongDim, wrongRank, wrongType, missing]) {
      const converted = toRunError(error);
      assert.ok(converted instanceof BadRequestError, `not a 400: ${converted.message}`);
      assert.equal(converted.cause, error);
    }
    assert.match(toRunError(wrongDim).message, /^Got invalid dimensions for input: x for the following indices index: 1 Got: 5 Expected: 4/);
  });

  it("keeps other run failures as 500s", async () => {
    const broadcast = await runError(add, {
      a: new Tensor("float32", new Float32Array(6), [2, 3]),
      b: new Tensor("float32", new Float32Array(9), [3, 3]),
    });
    const converted = toRunError(broadcast);
    assert.equal(converted.statusCode, 500);
    assert.match(converted.message, /^ONNX model run failed: Non-zero status code returned while running Add node/);
  });
});

describe("predictOnnx outputs", () => {
  it("returns a record of NDArrays by output name for a model with several outputs", async () => {
    const prediction = await predictOnnx(twoOutputs, [[1, -2]], {});
    assert.equal(isNDArray(prediction), false);
    const outputs = prediction as Record<string, NDArray>;
    assert.deepEqual(Object.keys(outputs), ["same", "negated"]);
    assert.deepEqual(Array.from(outputs["same"]?.data as Float32Array), [1, -2]);
    assert.deepEqual(Array.from(outputs["negated"]?.data as Float32Array), [-1, 2]);
    assert.deepEqual(outputs["negated"]?.shape, [1, 2]);
  });
});

describe("predictOnnx target model", () => {
  let record: OnnxSessions;
  before(() => {
    record = Object.freeze({ add, floats });
  });

  it("runs the session the target model names, with or without .onnx", async () => {
    assert.deepEqual((await predictOne(record, [[1, 2, 3, 4]], "floats")).shape, [1, 4]);
    const sum = await predictOne(record, { a: [[1, 1, 1]], b: [[2, 2, 2]] }, "add.onnx");
    assert.deepEqual(Array.from(sum.data as Float32Array), [3, 3, 3]);
  });

  it("rejects a request naming no model, listing the available ones", async () => {
    await rejectsAsBadRequest(record, [[1, 2, 3, 4]], "Several models are loaded: name one in the X-Amzn-SageMaker-Target-Model header (the models are add, floats)");
  });

  it("rejects an unknown target model, listing the available ones", async () => {
    await rejectsAsBadRequest(record, [[1, 2, 3, 4]], 'Unknown target model "resnet.onnx": the models are add, floats', "resnet.onnx");
  });

  it("ignores the target model when one session is loaded", async () => {
    assert.deepEqual((await predictOne(floats, [[1, 2, 3, 4]], "model.tar.gz")).shape, [1, 4]);
  });
});

describe("predictOnnx abort", () => {
  it("does not run when the signal has already fired", async () => {
    const controller = new AbortController();
    const reason = new Error("deadline passed");
    controller.abort(reason);
    await assert.rejects(predictOnnx(floats, [[1, 2, 3, 4]], { signal: controller.signal }), (error: unknown) => error === reason);
  });
});
