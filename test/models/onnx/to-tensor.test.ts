import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { fromTensor, toFeeds, toTensor } from "../../../src/models/onnx/to-tensor.js";
import type { NDArray } from "../../../src/tensor/ndarray.js";
import { buildIdentityModel } from "../../helpers/onnx-models.js";

describe("toTensor", () => {
  it("wraps an NDArray's data without copying it", () => {
    const arrays: NDArray[] = [
      { dtype: "float32", shape: [1, 2], data: new Float32Array([1, 2]) },
      { dtype: "int64", shape: [2], data: new BigInt64Array([1n, 2n]) },
      { dtype: "bool", shape: [1], data: new Uint8Array([1]) },
      { dtype: "string", shape: [2], data: ["a", "b"] },
    ];
    for (const array of arrays) {
      const tensor = toTensor(array);
      assert.equal(tensor.type, array.dtype);
      assert.deepEqual(tensor.dims, array.shape);
      assert.equal(tensor.data, array.data, `${array.dtype} data was copied`);
    }
  });

  it("hands float16 data to onnxruntime as the Uint16Array of bits", () => {
    const bits = new Uint16Array([0x3c00]);
    assert.equal(toTensor({ dtype: "float16", shape: [1], data: bits }).data, bits);
  });
});

describe("toFeeds", () => {
  it("feeds an NDArray of the input's dtype and shape as it is", () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const feeds = toFeeds([{ name: "x", isTensor: true, type: "float32", shape: ["batch", 4] }], { dtype: "float32", shape: [1, 4], data });
    assert.equal(feeds["x"]?.data, data);
  });
});

describe("fromTensor", () => {
  let halves: InferenceSession;
  let floats: InferenceSession;
  before(async () => {
    halves = await InferenceSession.create(buildIdentityModel("float16", ["n"]));
    floats = await InferenceSession.create(buildIdentityModel("float32", ["n"]));
  });
  after(async () => {
    await Promise.all([halves.release(), floats.release()]);
  });

  it("shares the output tensor's data", async () => {
    const outputs = await floats.run({ x: new Tensor("float32", new Float32Array([1, 2, 3]), [3]) });
    const tensor = outputs["y"] as Tensor;
    const array = fromTensor(tensor);
    assert.equal(array.data, tensor.data);
    assert.deepEqual(array.shape, [3]);
  });

  it("views float16 outputs as the Uint16Array of their bits, over the same memory", async () => {
    const outputs = await halves.run({ x: toTensor({ dtype: "float16", shape: [2], data: new Uint16Array([0x3c00, 0xc000]) }) });
    const tensor = outputs["y"] as Tensor;
    const array = fromTensor(tensor);
    assert.ok(array.data instanceof Uint16Array);
    assert.deepEqual(Array.from(array.data), [0x3c00, 0xc000]);
    assert.equal(array.data.buffer, (tensor.data as Uint16Array).buffer);
  });
});
