import type { InferenceSession, Tensor } from "onnxruntime-node";
import { BadRequestError, InferenceError } from "../../errors.js";
import type { NDArray } from "../../tensor/ndarray.js";
import type { PredictNotes } from "../model.js";
import { isOnnxSession, type OnnxSessions } from "./load-models.js";
import { fromTensor, toFeeds } from "./to-tensor.js";

/**
 * Messages of onnxruntime's input validation, seen from onnxruntime-node 1.30: the request, not
 * the model, is wrong. Kernel failures ("Non-zero status code returned while running Add node...")
 * stay server errors, even when a bad input caused them: nothing tells the two apart.
 */
const INPUT_ERRORS: readonly RegExp[] = [
  /^Got invalid dimensions for input: /,
  /^Invalid rank for input: /,
  /^Unexpected input data type\. /,
  /^input '.*' is missing in 'feeds'\./,
];

/**
 * What {@link predictOnnx} is told besides the model and the input.
 *
 * @example
 * ```ts
 * const options: PredictOnnxOptions = { targetModel: ctx.targetModel, signal: ctx.signal };
 * ```
 */
export interface PredictOnnxOptions {
  /** `X-Amzn-SageMaker-Target-Model`: picks one session of several, by file name with or without `.onnx`. */
  readonly targetModel?: string | undefined;
  /** Checked before the run starts; a run in progress cannot be interrupted. */
  readonly signal?: AbortSignal;
}

/**
 * The default `predictFn`: picks the session, maps `input` onto its inputs (see {@link toFeeds}),
 * runs it and returns its output as an {@link NDArray}, or a record of NDArrays by output name
 * when the model has several outputs. Output data is shared with onnxruntime, not copied.
 *
 * A request the model cannot take (unknown target model, missing input, wrong shape, value of the
 * wrong type) is a {@link BadRequestError} (400), as are onnxruntime's own input-validation
 * errors; other run failures are {@link InferenceError}s (500). Abort `signal` to skip the run.
 *
 * @example
 * ```ts
 * const options = { targetModel: ctx.targetModel, signal: ctx.signal };
 * const probabilities = await predictOnnx(model, [[5.1, 3.5, 1.4, 0.2]], options);
 * // { dtype: "float32", shape: [1, 3], data: Float32Array [0.97, 0.03, 0.00] }
 * ```
 */
export function predictOnnx(
  model: OnnxSessions,
  input: unknown,
  options: PredictOnnxOptions,
): Promise<NDArray | Record<string, NDArray>> {
  return predictOnnxWith(model, input, options, runSession);
}

/**
 * Runs one session on its feeds; the default runs it alone, a batcher may merge it with others
 * and note the run in the leading request's `notes`.
 *
 * @example
 * ```ts
 * const run: SessionRunner = (session, feeds) => session.run(feeds);
 * ```
 */
export type SessionRunner = (
  session: InferenceSession,
  feeds: Record<string, Tensor>,
  signal: AbortSignal | undefined,
  notes: PredictNotes | undefined,
) => Promise<InferenceSession.ReturnType>;

/**
 * {@link predictOnnx} with the run itself supplied, for the model wrapper that batches; `notes`
 * are the request's, handed to the run.
 *
 * @example
 * ```ts
 * await predictOnnxWith(sessions, input, options, (session, feeds, signal, notes) => batcher.run(feeds, signal, notes), notes);
 * ```
 */
export async function predictOnnxWith(
  model: OnnxSessions,
  input: unknown,
  options: PredictOnnxOptions,
  run: SessionRunner,
  notes?: PredictNotes,
): Promise<NDArray | Record<string, NDArray>> {
  const session = selectSession(model, options.targetModel);
  const feeds = toFeeds(session.inputMetadata, input);
  options.signal?.throwIfAborted();
  const outputs = await run(session, feeds, options.signal, notes);
  const arrays = session.outputNames.map((name) => [name, fromTensor(outputs[name] as Tensor)] as const);
  const [first] = arrays;
  if (arrays.length === 1 && first !== undefined) return first[1];
  return Object.fromEntries(arrays);
}

/**
 * One `session.run`, its errors turned into request or server errors ({@link toRunError}).
 *
 * @example
 * ```ts
 * const outputs = await runSession(session, feeds);
 * ```
 */
export async function runSession(session: InferenceSession, feeds: Record<string, Tensor>): Promise<InferenceSession.ReturnType> {
  try {
    return await session.run(feeds);
  } catch (error) {
    throw toRunError(error);
  }
}

/**
 * The session `targetModel` names in `model`: the model itself when it is one session, otherwise
 * the entry named by file name with or without `.onnx`.
 *
 * @example
 * ```ts
 * const session = selectSession({ detector, classifier }, "classifier.onnx"); // classifier
 * ```
 */
export function selectSession(model: OnnxSessions, targetModel: string | undefined): InferenceSession {
  if (isOnnxSession(model)) return model;
  const names = Object.keys(model);
  const available = names.length === 0 ? "none is loaded" : `the models are ${names.join(", ")}`;
  if (targetModel === undefined) {
    throw new BadRequestError(
      `Several models are loaded: name one in the X-Amzn-SageMaker-Target-Model header (${available})`,
    );
  }
  const name = Object.hasOwn(model, targetModel) ? targetModel : targetModel.replace(/\.onnx$/i, "");
  const session = Object.hasOwn(model, name) ? model[name] : undefined;
  if (session === undefined) throw new BadRequestError(`Unknown target model "${targetModel}": ${available}`);
  return session;
}

/**
 * Turns an error from `session.run` into a 400 when onnxruntime rejected the inputs themselves,
 * otherwise into a 500 {@link InferenceError} carrying onnxruntime's message.
 *
 * @example
 * ```ts
 * try { await session.run(feeds); } catch (error) { throw toRunError(error); }
 * ```
 */
export function toRunError(error: unknown): InferenceError {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
  if (INPUT_ERRORS.some((pattern) => pattern.test(message))) return new BadRequestError(message, { cause: error });
  return new InferenceError(`ONNX model run failed: ${message}`, { cause: error });
}
