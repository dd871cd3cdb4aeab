import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { IRIS_MODEL_PATH, buildIrisModel, loadIris } from "../../scripts/train-iris.js";

const { onnx } = onnxProto;

describe("the bundled iris model", () => {
  let session: ort.InferenceSession;

  before(async () => {
    session = await ort.InferenceSession.create(IRIS_MODEL_PATH);
  });

  after(async () => {
    await session.release();
  });

  async function classify(rows: readonly (readonly number[])[]): Promise<number[][]> {
    const features = new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, 4]);
    const { probabilities } = await session.run({ features });
    assert.ok(probabilities, "the model returned no probabilities output");
    assert.deepEqual(probabilities.dims, [rows.length, 3]);
    const data = Array.from(probabilities.data as Float32Array);
    return rows.map((_, index) => data.slice(index * 3, index * 3 + 3));
  }

  function argmax(values: readonly number[]): number {
    return values.indexOf(Math.max(...values));
  }

  test("takes float32 features [batch, 4] and returns float32 probabilities [batch, 3]", () => {
    assert.deepEqual(session.inputMetadata, [{ name: "features", isTensor: true, type: "float32", shape: ["batch", 4] }]);
    assert.deepEqual(session.outputMetadata, [
      { name: "probabilities", isTensor: true, type: "float32", shape: ["batch", 3] },
    ]);
  });

  test("names its classes and features in the model metadata", () => {
    const model = onnx.ModelProto.decode(readFileSync(IRIS_MODEL_PATH));
    const metadata = Object.fromEntries(model.metadataProps.map(({ key, value }) => [key, value]));
    assert.equal(metadata["classes"], "setosa,versicolor,virginica");
    assert.equal(metadata["features"], "sepal_length,sepal_width,petal_length,petal_width");
    assert.equal(metadata["feature_unit"], "cm");
    assert.equal(model.producerName, "sagemaker-byoc-node train-iris");
    assert.deepEqual(
      model.graph?.node?.map((node) => node.opType),
      ["MatMul", "Add", "Softmax"],
    );
  });

  test("classifies a typical row of each species, setosa with probability above 0.9", async () => {
    const [setosa, versicolor, virginica] = await classify([
      [5.1, 3.5, 1.4, 0.2],
      [6.0, 2.9, 4.5, 1.5],
      [6.9, 3.1, 5.4, 2.1],
    ]);
    assert.ok(setosa && versicolor && virginica);
    assert.equal(argmax(setosa), 0);
    assert.ok((setosa[0] ?? 0) > 0.9, `setosa probability ${setosa[0]}`);
    assert.equal(argmax(versicolor), 1);
    assert.equal(argmax(virginica), 2);
  });

  test("returns probabilities that sum to 1 in every row", async () => {
    const rows = await classify(loadIris().features);
    for (const [index, row] of rows.entries()) {
      const sum = row.reduce((total, value) => total + value, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${index} sums to ${sum}`);
    }
  });

  test("classifies at least 95% of the 150 iris rows correctly", async () => {
    const iris = loadIris();
    const rows = await classify(iris.features);
    const correct = rows.filter((row, index) => argmax(row) === iris.labels[index]).length;
    assert.ok(correct / rows.length >= 0.95, `accuracy ${correct}/${rows.length}`);
  });
});

test("the committed iris.onnx is exactly what scripts/train-iris.ts builds", () => {
  const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
  assert.equal(
    sha256(buildIrisModel()),
    sha256(readFileSync(IRIS_MODEL_PATH)),
    "examples/iris/model/iris.onnx is stale: run `node --import tsx scripts/train-iris.ts`",
  );
});
