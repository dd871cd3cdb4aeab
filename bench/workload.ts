import { fileURLToPath } from "node:url";
import type { InferenceSession } from "onnxruntime-node";

/** The bundled iris model every measurement runs. */
export const modelPath = fileURLToPath(new URL("../examples/iris/model/iris.onnx", import.meta.url));

/** One flower: sepal length, sepal width, petal length, petal width (cm). */
export const instance: readonly number[] = [5.1, 3.5, 1.4, 0.2];

/** The single-row request body both servers receive. */
export const requestBody = JSON.stringify({ instances: [instance] });

/**
 * Session options of the in-process floor and the minimal server: one intra-op thread, as a
 * 3-class MatMul gains nothing from more. The toolkit is measured with its own defaults instead:
 * on 2 cores that is one worker (CPU count - 1), whose session gets 2 intra-op threads (CPU count
 * ÷ workers, src/config/server-config.ts).
 */
export const sessionOptions: InferenceSession.SessionOptions = {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "all",
  intraOpNumThreads: 1,
};

/**
 * Whether `body` is a `{"predictions": [[p0, p1, p2]]}` answer for one row: three probabilities
 * that sum to 1.
 *
 * @example
 * ```ts
 * isIrisPrediction('{"predictions":[[0.997,0.003,0]]}'); // true
 * ```
 */
export function isIrisPrediction(body: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  const rows = (parsed as { predictions?: unknown } | null)?.predictions;
  if (!Array.isArray(rows) || rows.length !== 1) return false;
  const [row] = rows as unknown[];
  if (!Array.isArray(row) || row.length !== 3 || !row.every((value) => typeof value === "number")) return false;
  return Math.abs((row).reduce((sum, value) => sum + value, 0) - 1) < 1e-4;
}
