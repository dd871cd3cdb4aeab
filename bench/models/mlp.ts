/**
 * The benchmark's MLP: `features` float32 [batch, 64] → 512 → 512 → 10, ReLU between layers and
 * a softmax at the end (`probabilities` float32 [batch, 10]), 301,066 parameters. A model with
 * real compute per row (a single-row run costs tens of microseconds, a 64-row run about a
 * millisecond), where the iris model's few microseconds hide what serving costs.
 *
 * Deterministic: the weights come from a seeded generator, so every run writes the same bytes.
 * Usage: `node --import tsx bench/models/mlp.ts <dir>` writes `<dir>/mlp.onnx`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/**
 * One fully connected layer: `activation(x · weight + bias)`, `weight` row-major
 * [inputs, outputs].
 *
 * @example
 * ```ts
 * const layer: DenseLayer = { weight: new Float32Array(64 * 512), bias: new Float32Array(512), inputs: 64, outputs: 512, activation: "relu" };
 * ```
 */
export interface DenseLayer {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: "relu" | "softmax" | "none";
}

/** Layer widths, input first. */
export const MLP_WIDTHS = [64, 512, 512, 10] as const;
/** The graph's input and output names. */
export const MLP_INPUT = "features";
export const MLP_OUTPUT = "probabilities";

const WEIGHT_SEED = 0x5eed_0001;
const INPUT_SEED = 0x5eed_0002;

/**
 * A PRNG with a 32-bit state (mulberry32): uniform floats in [0, 1), the same sequence for the
 * same seed on every platform.
 *
 * @example
 * ```ts
 * const next = seededRandom(1);
 * next(); // 0.627...
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The MLP's layers: He-uniform weights (`±sqrt(6 / inputs)`, what ReLU layers are initialised
 * with) and biases in ±0.1.
 *
 * @example
 * ```ts
 * const [first] = mlpLayers(); // first.inputs: 64, first.outputs: 512
 * ```
 */
export function mlpLayers(): DenseLayer[] {
  const random = seededRandom(WEIGHT_SEED);
  const uniform = (length: number, limit: number) => Float32Array.from({ length }, () => (2 * random() - 1) * limit);
  return MLP_WIDTHS.slice(1).map((outputs, index) => {
    const inputs = MLP_WIDTHS[index] as number;
    return {
      weight: uniform(inputs * outputs, Math.sqrt(6 / inputs)),
      bias: uniform(outputs, 0.1),
      inputs,
      outputs,
      activation: index === MLP_WIDTHS.length - 2 ? "softmax" : "relu",
    };
  });
}

/**
 * `rows` input rows of the MLP, uniform in [-1, 1), the same for the same `rows`.
 *
 * @example
 * ```ts
 * const rows = mlpInputs(64); // 64 arrays of 64 numbers
 * ```
 */
export function mlpInputs(rows: number): number[][] {
  const random = seededRandom(INPUT_SEED);
  // Rounded to 4 decimals, so JSON bodies carry short numbers, as real feature vectors often do.
  return Array.from({ length: rows }, () => Array.from({ length: MLP_WIDTHS[0] }, () => Math.round((2 * random() - 1) * 1e4) / 1e4));
}

/**
 * Encodes dense layers as an ONNX model (IR 8, opset 13): MatMul → Add → Relu per hidden layer,
 * MatMul → Add → Softmax(axis 1) at the end, with a symbolic batch dimension.
 *
 * @example
 * ```ts
 * writeFileSync("mlp.onnx", encodeDenseModel(mlpLayers()));
 * ```
 */
export function encodeDenseModel(layers: readonly DenseLayer[], names = { input: MLP_INPUT, output: MLP_OUTPUT }): Uint8Array {
  const first = layers[0];
  const last = layers.at(-1);
  if (first === undefined || last === undefined) throw new Error("a dense model needs at least one layer");
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  let value = names.input;
  layers.forEach((layer, index) => {
    const weight = `layer${index}_weight`;
    const bias = `layer${index}_bias`;
    initializers.push(floatTensor(weight, [layer.inputs, layer.outputs], layer.weight));
    initializers.push(floatTensor(bias, [layer.outputs], layer.bias));
    const stages = ["MatMul", "Add", ...(layer.activation === "none" ? [] : [layer.activation === "relu" ? "Relu" : "Softmax"])];
    stages.forEach((opType, stage) => {
      const output = index === layers.length - 1 && stage === stages.length - 1 ? names.output : `layer${index}_${opType.toLowerCase()}`;
      const inputs = opType === "MatMul" ? [value, weight] : opType === "Add" ? [value, bias] : [value];
      const created = onnx.NodeProto.create({ opType, input: inputs, output: [output], name: output });
      if (opType === "Softmax") {
        created.attribute = [onnx.AttributeProto.create({ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 })];
      }
      nodes.push(created);
      value = output;
    });
  });
  const graph = onnx.GraphProto.create({
    name: "bench_mlp",
    input: [matrixValue(names.input, first.inputs)],
    output: [matrixValue(names.output, last.outputs)],
    node: nodes,
    initializer: initializers,
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: 13 })],
    producerName: "sagemaker-byoc-node bench",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Writes `mlp.onnx` into `dir` and returns its path.
 *
 * @example
 * ```ts
 * const modelPath = writeMlpModel("bench/results/assets/mlp/model");
 * ```
 */
export function writeMlpModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "mlp.onnx");
  writeFileSync(path, encodeDenseModel(mlpLayers()));
  return path;
}

function floatTensor(name: string, dims: number[], values: Float32Array): InstanceType<typeof onnx.TensorProto> {
  return onnx.TensorProto.create({
    name,
    dataType: onnx.TensorProto.DataType.FLOAT,
    dims,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  });
}

function matrixValue(name: string, columns: number): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: [onnx.TensorShapeProto.Dimension.create({ dimParam: "batch" }), onnx.TensorShapeProto.Dimension.create({ dimValue: columns })],
        }),
      }),
    }),
  });
}

if (import.meta.main) {
  const [dir] = process.argv.slice(2);
  if (dir === undefined) throw new Error("usage: node --import tsx bench/models/mlp.ts <dir>");
  console.log(writeMlpModel(dir));
}
