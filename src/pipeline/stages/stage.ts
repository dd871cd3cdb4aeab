/**
 * One stage of a pipeline served in one container (docs/pipelines.md): its name, its model, its
 * handlers and its settings. Stages are composed with `stages()` (stage-pipeline.ts).
 */
import { ConfigurationError } from "../../errors.js";
import type { ModelContext, RequestContext } from "../../handlers/types.js";
import type { BatchingSettings } from "../../models/onnx/batcher.js";
import type { NDArray } from "../../tensor/ndarray.js";

type Awaitable<T> = T | Promise<T>;

const stageBrand = Symbol.for("sagemaker-byoc-node.Stage");
const earlyAnswerBrand = Symbol.for("sagemaker-byoc-node.EarlyAnswer");
const stageNamePattern = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

/**
 * A final answer a stage gives before the last stage: the stages after it do not run, and the
 * answer goes to the pipeline's encoder as the last stage's output would. Made by
 * {@link answerEarly}.
 *
 * @example
 * ```ts
 * const blank: EarlyAnswer<Reading> = answerEarly({ lines: [], width, height });
 * ```
 */
export interface EarlyAnswer<T> {
  readonly [earlyAnswerBrand]: true;
  readonly value: T;
}

/**
 * Ends the pipeline with `value` as its answer: return it from a stage's `predictFn` (a quality
 * gate, a cache hit, an empty input). The stages after this one are skipped; the pipeline's
 * encoder (`encodeWith`, or the codec chosen by Accept) encodes `value`.
 *
 * @example
 * ```ts
 * predictFn: (image: RgbImage) => (isBlank(image) ? answerEarly({ lines: [], width: image.width, height: image.height }) : image)
 * ```
 */
export function answerEarly<T>(value: T): EarlyAnswer<T> {
  return { [earlyAnswerBrand]: true, value };
}

/**
 * True for what {@link answerEarly} returns, from any copy of this package.
 *
 * @example
 * ```ts
 * if (isEarlyAnswer(output)) return output.value;
 * ```
 */
export function isEarlyAnswer(value: unknown): value is EarlyAnswer<unknown> {
  return typeof value === "object" && value !== null && earlyAnswerBrand in value;
}

/**
 * What every stage may declare besides its predict step.
 *
 * @example
 * ```ts
 * const common: StageSettings = { name: "recognize", workers: 1 };
 * ```
 */
export interface StageSettings {
  /** Names the stage in logs, timings, metrics and errors: a letter, then letters, digits, `-` or `_` (63 at most). */
  readonly name: string;
  /**
   * Where the stage's model is, relative to the model directory (absolute paths are kept): one
   * `.onnx` file, or a directory whose `.onnx` files load as `ctx.loadOnnxModels` loads them. With
   * a `modelFn`, this is the path `modelFn` receives (the model directory itself by default).
   * Without either, the stage has no model.
   */
  readonly model?: string;
  /**
   * Runs this stage on this many workers of its own rather than in the worker that took the
   * request: its model is loaded that many times (not once per worker), and its input and output
   * cross threads, their buffers moved rather than copied (docs/pipelines.md, "Where stages run").
   * Without it, the stage runs in the request's worker.
   */
  readonly workers?: number;
  /**
   * Dynamic batching of this stage's ONNX sessions, over the server's `BYOC_BATCH_*` settings, as a
   * handlers file's `batching` export; applies to the default predict step (a stage with `model`
   * and no `predictFn`). `false` runs it one request at a time.
   */
  readonly batching?: Partial<BatchingSettings> | false;
}

/**
 * A stage with a predict step of its own: it turns an `In` into an `Out` (or an early answer of
 * type `Early`) with its model `M`.
 *
 * @example
 * ```ts
 * const spec: StageSpec<RgbImage, Detection, InferenceSession, never> = {
 *   name: "detect",
 *   modelFn: loadDetector,
 *   predictFn: async (image, detector, ctx) => ({ image, boxes: await detectTextBoxes(detector, image, ctx.signal) }),
 * };
 * ```
 */
export interface StageSpec<In, Out, M, Early> extends StageSettings {
  /** Loads the stage's model from `model` (or the model directory). Default: its ONNX sessions, or no model when `model` is not set. */
  readonly modelFn?: (modelPath: string, ctx: ModelContext) => Awaitable<M>;
  /** Decodes the request body into the stage's input; only the first stage of a pipeline may have one. Default: the codec for Content-Type. */
  readonly inputFn?: (body: Buffer, contentType: string, ctx: RequestContext) => Awaitable<In>;
  /** The stage's work: its output goes to the next stage as it is, in memory. Return {@link answerEarly} to end the pipeline here. */
  readonly predictFn: (input: In, model: M, ctx: RequestContext) => Awaitable<Out | EarlyAnswer<Early>>;
  /** Runs once after `modelFn`, before the pipeline takes requests. */
  readonly warmUpFn?: (model: M, ctx: ModelContext) => Awaitable<void>;
  /** Runs once when the pipeline is unloaded, before the toolkit releases the ONNX sessions it loaded. */
  readonly unloadFn?: (model: M, ctx: ModelContext) => Awaitable<void>;
  /**
   * Skips the stage for this request when it returns true: its input goes on as its output, so it
   * is allowed only when the input's type is also the output's.
   */
  readonly skipIf?: (input: In, ctx: RequestContext) => boolean;
}

/**
 * A stage that runs its ONNX model with the toolkit's default predict step (`predictOnnx`, with
 * dynamic batching): its input is mapped onto the session's inputs, its output is an NDArray, or
 * a record of them by output name when the model has several.
 *
 * @example
 * ```ts
 * const spec: OnnxStageSpec = { name: "embed", model: "encoder.onnx", batching: { maxBatchSize: 16 } };
 * ```
 */
export interface OnnxStageSpec extends StageSettings {
  readonly model: string;
  readonly inputFn?: (body: Buffer, contentType: string, ctx: RequestContext) => unknown;
}

/**
 * What the default ONNX predict step gives: one NDArray, or a record of them by output name.
 *
 * @example
 * ```ts
 * const logits: OnnxOutput = { dtype: "float32", shape: [1, 3], data: new Float32Array(3) };
 * ```
 */
export type OnnxOutput = NDArray | Record<string, NDArray>;

/** `skipIf` hands the input on as the output: only a stage whose input is also an output may have one. */
type SkipRule<In, Out> = [In] extends [Out] ? unknown : { readonly skipIf?: never };

/**
 * A stage as `stages()` composes it: `In` is what it takes, `Out` what it gives the next stage,
 * `Early` what it may answer early with. Made by {@link defineStage}.
 *
 * @example
 * ```ts
 * const recognize: Stage<LineImages, Reading> = defineStage({ name: "recognize", modelFn: loadRecognizer, predictFn: readLines });
 * ```
 */
export interface Stage<In, Out, Early = never> {
  readonly [stageBrand]: true;
  readonly name: string;
  /** The stage's handlers and settings, as declared. */
  readonly spec: StageDefinition;
  /** Carries the types only; never set. */
  readonly types?: { readonly input: (input: In) => void; readonly output: () => Out; readonly early: () => Early };
}

/**
 * A stage's handlers and settings with the types erased: what the toolkit loads and runs.
 *
 * @example
 * ```ts
 * const definition: StageDefinition = stage.spec;
 * ```
 */
export interface StageDefinition extends StageSettings {
  readonly modelFn?: (modelPath: string, ctx: ModelContext) => unknown;
  readonly inputFn?: (body: Buffer, contentType: string, ctx: RequestContext) => unknown;
  readonly predictFn?: (input: unknown, model: unknown, ctx: RequestContext) => unknown;
  readonly warmUpFn?: (model: unknown, ctx: ModelContext) => Awaitable<void>;
  readonly unloadFn?: (model: unknown, ctx: ModelContext) => Awaitable<void>;
  readonly skipIf?: (input: unknown, ctx: RequestContext) => boolean;
}

/**
 * Declares one stage of a pipeline (docs/pipelines.md): a name, a model (ONNX by default: `model`
 * names a file or directory; or its own `modelFn`), a predict step and its settings. Its types
 * come from its handlers: `stages(a).then(b)` compiles only when `b` takes what `a` gives.
 * Settings are checked here: a wrong name, worker count or batching setting throws a
 * {@link ConfigurationError} when the handlers file is imported.
 *
 * @example
 * ```ts
 * const detect = defineStage({
 *   name: "detect",
 *   modelFn: loadDetector,
 *   inputFn: decodeImage,
 *   predictFn: async (image: RgbImage, detector: InferenceSession, ctx) => ({ image, boxes: await detectTextBoxes(detector, image, ctx.signal) }),
 * });
 * const embed = defineStage({ name: "embed", model: "encoder.onnx", workers: 1 }); // the default ONNX predict step
 * ```
 */
export function defineStage<In, Out, M = undefined, Early = never>(spec: StageSpec<In, Out, M, Early> & SkipRule<In, Out>): Stage<In, Out, Early>;
export function defineStage(spec: OnnxStageSpec): Stage<unknown, OnnxOutput>;
export function defineStage(spec: StageDefinition): Stage<unknown, unknown, unknown> {
  checkStage(spec);
  return { [stageBrand]: true, name: spec.name, spec };
}

/**
 * True for what {@link defineStage} returns, from any copy of this package.
 *
 * @example
 * ```ts
 * if (!isStage(value)) throw new TypeError("not a stage");
 * ```
 */
export function isStage(value: unknown): value is Stage<unknown, unknown, unknown> {
  return typeof value === "object" && value !== null && stageBrand in value;
}

function checkStage(spec: StageDefinition): void {
  if (typeof spec !== "object" || spec === null) throw new ConfigurationError("defineStage takes an object: { name, model?, modelFn?, predictFn, ... }");
  const label = typeof spec.name === "string" ? `Stage "${spec.name}"` : "A stage";
  if (typeof spec.name !== "string" || !stageNamePattern.test(spec.name)) {
    throw new ConfigurationError(`${label}: name must be a letter, then letters, digits, "-" or "_" (63 characters at most)`);
  }
  for (const handler of ["modelFn", "inputFn", "predictFn", "warmUpFn", "unloadFn", "skipIf"] as const) {
    if (spec[handler] !== undefined && typeof spec[handler] !== "function") throw new ConfigurationError(`${label}: ${handler} must be a function`);
  }
  if (spec.model !== undefined && (typeof spec.model !== "string" || spec.model === "")) throw new ConfigurationError(`${label}: model must be a path`);
  if (spec.predictFn === undefined && (spec.model === undefined || spec.modelFn !== undefined)) {
    throw new ConfigurationError(`${label} needs a predictFn (only a stage that loads ONNX files from \`model\`, without modelFn, runs the default ONNX predict step)`);
  }
  if (spec.workers !== undefined && (!Number.isInteger(spec.workers) || spec.workers < 1)) throw new ConfigurationError(`${label}: workers must be a whole number >= 1`);
  if (spec.batching !== undefined && !isBatching(spec.batching)) {
    throw new ConfigurationError(`${label}: batching must be false or { maxBatchSize?: whole number >= 1, maxDelayMs?: whole number >= 0 }`);
  }
}

/**
 * True for `false` or `{ maxBatchSize?, maxDelayMs? }` with whole numbers (size at least 1): a
 * handlers file's `batching` export, or a stage's.
 *
 * @example
 * ```ts
 * isBatching({ maxBatchSize: 8 }); // true
 * ```
 */
export function isBatching(batching: unknown): batching is Partial<BatchingSettings> | false {
  if (batching === false) return true;
  if (typeof batching !== "object" || batching === null) return false;
  const fields = batching as Record<string, unknown>;
  return (
    Object.keys(fields).every((key) => key === "maxBatchSize" || key === "maxDelayMs") &&
    (fields["maxBatchSize"] === undefined || (Number.isInteger(fields["maxBatchSize"]) && (fields["maxBatchSize"] as number) >= 1)) &&
    (fields["maxDelayMs"] === undefined || (Number.isInteger(fields["maxDelayMs"]) && (fields["maxDelayMs"] as number) >= 0))
  );
}
