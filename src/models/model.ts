import type { RequestContext } from "../handlers/types.js";

/**
 * One named tensor of a model's signature. `shape` holds a number for a fixed dimension and a
 * name (`"batch"`) or `-1` for a variable one.
 *
 * @example
 * ```ts
 * const features: TensorSpec = { name: "features", dtype: "float32", shape: ["batch", 4] };
 * ```
 */
export interface TensorSpec {
  readonly name: string;
  /** Element type as onnxruntime names it (`float32`, `int64`, `string`...). */
  readonly dtype: string;
  readonly shape: readonly (number | string)[];
}

/**
 * The tensors a model takes and gives, when it declares them (ONNX sessions do): what the KServe V2
 * metadata routes describe and what dynamic batching checks requests against.
 *
 * @example
 * ```ts
 * const signature: ModelSignature = { inputs: [features], outputs: [{ name: "probabilities", dtype: "float32", shape: ["batch", 3] }] };
 * ```
 */
export interface ModelSignature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/**
 * One `session.run` of a batched model: how many rows it ran and how many requests they came
 * from (1 when a request ran alone).
 *
 * @example
 * ```ts
 * const run: BatchRun = { rows: 12, requests: 9 };
 * ```
 */
export interface BatchRun {
  readonly rows: number;
  readonly requests: number;
}

/**
 * What a model notes about one request's predict step, besides its answer, for the request's
 * timings and the metrics: a model made of stages, the milliseconds each stage took, by stage
 * name; a batched model, the run this request led (only the first request of a run gets it, so
 * each run is counted once).
 *
 * @example
 * ```ts
 * const notes: PredictNotes = { stageTimes: {}, batchRun: undefined };
 * await model.predict(input, ctx, notes);
 * ```
 */
export interface PredictNotes {
  readonly stageTimes: Record<string, number>;
  batchRun: BatchRun | undefined;
}

/**
 * A loaded model as the pipeline sees it, whatever backs it: ONNX sessions loaded by the toolkit,
 * or what the user's `modelFn` returned together with their `predictFn`. It lives in the thread that
 * runs it (an inference worker).
 *
 * Lifecycle: created by `loadModel` (which also warms it up and measures its memory), `predict`
 * per request, `release` once, when the model is unloaded or the server stops.
 *
 * @example
 * ```ts
 * const prediction = await model.predict([[5.1, 3.5, 1.4, 0.2]], ctx);
 * await model.release();
 * ```
 */
export interface Model {
  /** What handlers receive as `model`: the ONNX session (or record of them), or `modelFn`'s result. */
  readonly value: unknown;
  /** The model's tensors, when known. */
  readonly signature: ModelSignature | undefined;
  /** Most rows one run merges from concurrent requests; 1 when the model is not batched. */
  readonly batchSize: number;
  /**
   * Set when `predict` answers an NDArray of this type exactly as it answers the nested arrays of
   * the same numbers, so the pipeline may decode a numeric JSON body straight to one.
   */
  readonly numericInput?: "float32" | "float64" | undefined;
  /** Runs one decoded request, noting in `notes` what the request's timings report ({@link PredictNotes}). */
  predict(input: unknown, ctx: RequestContext, notes?: PredictNotes): Promise<unknown>;
  /** Frees what the model holds (sessions, the user's resources). Called once. */
  release(): Promise<void>;
}
