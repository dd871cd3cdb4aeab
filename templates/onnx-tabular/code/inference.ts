// The handlers SageMaker's requests go through: inputFn -> predictFn -> outputFn. Export only the
// ones you change; the others keep their defaults (see the sagemaker-byoc-node README).
import { BadRequestError, isNDArray, type RequestContext } from "sagemaker-byoc-node";

/** The model's classes, in the order of its output columns. */
const classes = ["setosa", "versicolor", "virginica"] as const;
/** Columns of one row, in centimetres: sepal length, sepal width, petal length, petal width. */
const featureCount = 4;

/** What one row is classified as. */
export interface Classification {
  readonly label: (typeof classes)[number];
  readonly probabilities: Record<(typeof classes)[number], number>;
}

/**
 * JSON (`{"instances": [[5.1, 3.5, 1.4, 0.2]]}`) or CSV rows, decoded as by default, then checked:
 * a malformed row is the client's mistake, a 400 that says which row.
 */
export function inputFn(body: Buffer, contentType: string): number[][] {
  const rows = contentType.startsWith("text/csv") ? parseCsv(body.toString("utf8")) : parseJson(body.toString("utf8"));
  rows.forEach((row, index) => {
    if (row.length !== featureCount || row.some((value) => typeof value !== "number" || !Number.isFinite(value))) {
      throw new BadRequestError(`Row ${index} must hold ${featureCount} numbers (sepal length, sepal width, petal length, petal width in cm)`);
    }
  });
  return rows;
}

// No predictFn: the default runs the ONNX model in model/ on what inputFn returned.

/** One label and its probabilities per row. */
export function outputFn(prediction: unknown, accept: string, ctx: RequestContext): { body: string; contentType: string } {
  if (!isNDArray(prediction)) throw new Error("Expected the model's output tensor");
  const columns = prediction.shape[1] ?? 0;
  const probabilities = Array.from(prediction.data as Float32Array);
  const results: Classification[] = [];
  for (let row = 0; row * columns < probabilities.length; row++) {
    const scores = probabilities.slice(row * columns, (row + 1) * columns);
    const best = scores.indexOf(Math.max(...scores));
    results.push({
      label: classes[best] ?? classes[0],
      probabilities: Object.fromEntries(classes.map((name, index) => [name, scores[index] ?? 0])) as Classification["probabilities"],
    });
  }
  ctx.log.debug({ rows: results.length, accept }, "classified");
  return { body: JSON.stringify({ predictions: results }), contentType: "application/json" };
}

function parseCsv(text: string): number[][] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .map((line) => line.split(",").map(Number));
}

function parseJson(text: string): number[][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`The body is not JSON: ${(error as Error).message}`);
  }
  const instances = typeof parsed === "object" && parsed !== null && "instances" in parsed ? parsed.instances : parsed;
  if (!Array.isArray(instances) || !instances.every((row) => Array.isArray(row))) {
    throw new BadRequestError('Send {"instances": [[5.1, 3.5, 1.4, 0.2], ...]} or CSV rows');
  }
  return instances as number[][];
}
