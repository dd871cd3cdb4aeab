/**
 * Writes the image template's stand-in model, `templates/image/model/brightness.onnx`: a
 * two-class "dark or bright" classifier on an NCHW float32 image in [0, 1] of any size. It averages
 * each channel (GlobalAveragePool), then a linear layer and a softmax turn the mean intensity m
 * into the logits (5 - 10m, 10m - 5): below 0.5 dark, above bright. It is there so a new project
 * runs end to end at once; users replace it with their own classifier. Deterministic: every run
 * writes the same bytes.
 *
 * Run with `node --import tsx scripts/make-template-models.ts`.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** Where the committed model lives, relative to this script. */
export const BRIGHTNESS_MODEL_PATH = fileURLToPath(new URL("../templates/image/model/brightness.onnx", import.meta.url));

/** The output's classes, in order. */
export const BRIGHTNESS_CLASSES = ["dark", "bright"] as const;

/**
 * The brightness classifier as ONNX bytes.
 *
 * @example
 * ```ts
 * writeFileSync("brightness.onnx", encodeBrightnessModel());
 * ```
 */
export function encodeBrightnessModel(): Uint8Array {
  const sharpness = 10;
  const graph = onnx.GraphProto.create({
    name: "brightness",
    node: [
      onnx.NodeProto.create({ opType: "GlobalAveragePool", input: ["image"], output: ["channel_means"], name: "pool" }),
      onnx.NodeProto.create({
        opType: "Flatten",
        input: ["channel_means"],
        output: ["flat"],
        name: "flatten",
        attribute: [onnx.AttributeProto.create({ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
      }),
      onnx.NodeProto.create({ opType: "MatMul", input: ["flat", "weights"], output: ["linear"], name: "matmul" }),
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
      // Each channel's mean counts a third: the columns are dark, bright.
      floatTensor("weights", [3, 2], [-1, 1, -1, 1, -1, 1].map((sign) => (sign * sharpness) / 3)),
      floatTensor("bias", [2], [sharpness / 2, -sharpness / 2]),
    ],
    input: [valueInfo("image", ["batch", 3, "height", "width"])],
    output: [valueInfo("probabilities", ["batch", BRIGHTNESS_CLASSES.length])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: 13 })],
    producerName: "sagemaker-byoc-node scripts/make-template-models.ts",
    graph,
    metadataProps: [onnx.StringStringEntryProto.create({ key: "classes", value: BRIGHTNESS_CLASSES.join(",") })],
  });
  return onnx.ModelProto.encode(model).finish();
}

function floatTensor(name: string, dims: number[], values: readonly number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: [...values] });
}

function valueInfo(name: string, dims: readonly (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((dim) => (typeof dim === "number" ? onnx.TensorShapeProto.Dimension.create({ dimValue: dim }) : onnx.TensorShapeProto.Dimension.create({ dimParam: dim }))),
        }),
      }),
    }),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(BRIGHTNESS_MODEL_PATH, encodeBrightnessModel());
  console.log(`wrote ${BRIGHTNESS_MODEL_PATH}`);
}
