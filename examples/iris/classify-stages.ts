/**
 * The iris classifier as three typed stages in one container (README, "Stages in one
 * container"): `parse` reads CSV rows, `classify` runs iris.onnx with the toolkit's default ONNX
 * step, `name` turns probabilities into species. Rows of zeros answer early, without the model.
 *
 *   npx sagemaker-byoc serve --handlers examples/iris/classify-stages.ts --model-dir examples/iris/model
 */
import { BadRequestError, answerEarly, defineStage, stages, type EarlyAnswer, type NDArray, type OnnxOutput } from "sagemaker-byoc-node";

/** One row's answer. */
export type Species = { species: string; probability: number };

const parse = defineStage({
  name: "parse",
  inputFn: (body: Buffer): number[][] => body.toString("utf8").trim().split("\n").map((line) => line.split(",").map(Number)),
  predictFn: (rows: number[][]): NDArray<"float32"> | EarlyAnswer<Species[]> => {
    if (rows.some((row) => row.length !== 4 || row.some(Number.isNaN))) throw new BadRequestError("Send CSV rows of 4 numbers"); // a 400 naming "parse"
    if (rows.every((row) => row.every((value) => value === 0))) return answerEarly(rows.map(() => ({ species: "none", probability: 0 })));
    return { dtype: "float32", shape: [rows.length, 4], data: Float32Array.from(rows.flat()) };
  },
});

const classify = defineStage({ name: "classify", model: "iris.onnx" }); // the default ONNX step

const name = defineStage({
  name: "name",
  predictFn: (output: OnnxOutput): Species[] => {
    const { data, shape } = output as NDArray<"float32">;
    return Array.from({ length: shape[0] ?? 0 }, (_, row) => {
      const probabilities = Array.from(data.subarray(row * 3, row * 3 + 3));
      const best = probabilities.indexOf(Math.max(...probabilities));
      return { species: ["setosa", "versicolor", "virginica"][best] ?? "none", probability: Math.round((probabilities[best] ?? 0) * 1000) / 1000 };
    });
  },
});

export const pipeline = stages(parse).then(classify).then(name).encodeWith((answer) => JSON.stringify(answer));
