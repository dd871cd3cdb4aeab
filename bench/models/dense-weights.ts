/**
 * The weights of a dense ONNX model (a chain of MatMul → Add → optional Relu or Softmax, as the
 * iris model and the bench's MLP are), read back from the `.onnx` file and written as `.npy`
 * files for the Python contender's numpy forward pass. Reading them from the model file the
 * other contenders serve, rather than from the generator, guarantees both sides use the same
 * numbers.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { encodeNpy } from "../../src/codecs/npy.js";
import type { DenseLayer } from "./mlp.js";

const { onnx } = onnxProto;

/**
 * What `manifest.json` beside the `.npy` files says, layer by layer (bench/python/app.py reads it).
 *
 * @example
 * ```ts
 * const manifest: DenseManifest = { layers: [{ weight: "layer0.weight.npy", bias: "layer0.bias.npy", activation: "softmax" }] };
 * ```
 */
export interface DenseManifest {
  readonly layers: readonly { readonly weight: string; readonly bias: string; readonly activation: DenseLayer["activation"] }[];
}

/**
 * Reads the dense layers of an ONNX model made only of MatMul, Add, Relu and Softmax (axis 1 or
 * -1) nodes in a chain, with float32 weights. Throws on any other graph.
 *
 * @example
 * ```ts
 * const layers = readDenseLayers("examples/iris/model/iris.onnx"); // one layer, 4 → 3, softmax
 * ```
 */
export function readDenseLayers(modelPath: string): DenseLayer[] {
  const { graph } = onnx.ModelProto.decode(readFileSync(modelPath));
  if (!graph) throw new Error(`${modelPath} has no graph`);
  const initializers = new Map((graph.initializer ?? []).map((tensor) => [tensor.name ?? "", tensor]));
  const layers: DenseLayer[] = [];
  let pending: { weight: Float32Array; inputs: number; outputs: number; bias?: Float32Array } | undefined;
  const finish = (activation: DenseLayer["activation"]) => {
    if (pending?.bias === undefined) throw new Error(`${modelPath}: an activation before MatMul and Add`);
    layers.push({ weight: pending.weight, bias: pending.bias, inputs: pending.inputs, outputs: pending.outputs, activation });
    pending = undefined;
  };
  for (const node of graph.node ?? []) {
    const constant = (node.input ?? []).map((name) => initializers.get(name)).find((tensor) => tensor !== undefined);
    switch (node.opType) {
      case "MatMul": {
        if (pending !== undefined) finish("none");
        if (constant === undefined || constant.dims?.length !== 2) throw new Error(`${modelPath}: ${describeNode(node)} has no 2-D weight`);
        const [inputs, outputs] = (constant.dims ?? []).map(Number) as [number, number];
        pending = { weight: floats(constant), inputs, outputs };
        break;
      }
      case "Add":
        if (pending === undefined || constant === undefined) throw new Error(`${modelPath}: ${describeNode(node)} is not a bias after MatMul`);
        pending.bias = floats(constant);
        break;
      case "Relu":
        finish("relu");
        break;
      case "Softmax": {
        const axis = Number(node.attribute?.find((attribute) => attribute.name === "axis")?.i ?? -1);
        if (axis !== 1 && axis !== -1) throw new Error(`${modelPath}: ${describeNode(node)} on axis ${axis}, not the class axis`);
        finish("softmax");
        break;
      }
      default:
        throw new Error(`${modelPath}: ${describeNode(node)} is not part of a dense chain`);
    }
  }
  if (pending !== undefined) finish("none");
  return layers;
}

/**
 * Writes `layer<i>.weight.npy`, `layer<i>.bias.npy` and `manifest.json` into `dir`.
 *
 * @example
 * ```ts
 * writeDenseWeights(readDenseLayers("mlp.onnx"), "bench/results/assets/mlp/numpy");
 * ```
 */
export function writeDenseWeights(layers: readonly DenseLayer[], dir: string): void {
  mkdirSync(dir, { recursive: true });
  const manifest: DenseManifest = {
    layers: layers.map((layer, index) => {
      const weight = `layer${index}.weight.npy`;
      const bias = `layer${index}.bias.npy`;
      writeFileSync(join(dir, weight), encodeNpy({ dtype: "float32", shape: [layer.inputs, layer.outputs], data: layer.weight }));
      writeFileSync(join(dir, bias), encodeNpy({ dtype: "float32", shape: [layer.outputs], data: layer.bias }));
      return { weight, bias, activation: layer.activation };
    }),
  };
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * The forward pass in JavaScript, float64 accumulation: what the numpy contender computes, as a
 * reference for checks.
 *
 * @example
 * ```ts
 * denseForward(readDenseLayers("iris.onnx"), [[5.1, 3.5, 1.4, 0.2]]); // [[0.997, 0.003, 0]]
 * ```
 */
export function denseForward(layers: readonly DenseLayer[], rows: readonly (readonly number[])[]): number[][] {
  return rows.map((row) =>
    layers.reduce<number[]>(
      (input, layer) => {
        const output = Array.from(layer.bias, (bias, column) => input.reduce((sum, value, k) => sum + value * (layer.weight[k * layer.outputs + column] as number), bias));
        if (layer.activation === "relu") return output.map((value) => Math.max(0, value));
        if (layer.activation === "none") return output;
        const largest = Math.max(...output);
        const exponentials = output.map((value) => Math.exp(value - largest));
        const total = exponentials.reduce((sum, value) => sum + value, 0);
        return exponentials.map((value) => value / total);
      },
      [...row],
    ),
  );
}

function describeNode(node: onnxProto.onnx.INodeProto): string {
  return node.name ? `${node.opType} node ${node.name}` : `a ${node.opType} node`;
}

function floats(tensor: onnxProto.onnx.ITensorProto): Float32Array {
  if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`initializer ${tensor.name} is not float32`);
  if (tensor.rawData && tensor.rawData.length > 0) {
    const bytes = Uint8Array.from(tensor.rawData);
    return new Float32Array(bytes.buffer, 0, bytes.length / 4);
  }
  return Float32Array.from(tensor.floatData ?? []);
}
