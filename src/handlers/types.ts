import type { InferenceSession } from "onnxruntime-node";
import type { Logger } from "pino";
import type { Codec, EncodedBody } from "../codecs/codec.js";
import type { BatchingSettings } from "../models/onnx/batcher.js";
import type { OnnxSessions } from "../models/onnx/load-models.js";
import type { ComposedStages } from "../pipeline/stages/stage-pipeline.js";

/**
 * What `modelFn` is given besides the model directory.
 *
 * @example
 * ```ts
 * export async function modelFn(modelDir: string, ctx: ModelContext) {
 *   ctx.log.info({ modelDir }, "loading");
 *   return ctx.loadOnnxModels(modelDir);
 * }
 * ```
 */
export interface ModelContext {
  /** Logger for load-time messages. */
  readonly log: Logger;
  /** The model's name: the directory's own name in multi-model mode, `model` otherwise. */
  readonly modelName: string;
  /** Index of the worker loading this copy of the model (0-based). */
  readonly workerId: number;
  /**
   * Loads every `.onnx` file directly in `dir` (subdirectories are not searched) with the configured execution providers and session
   * options: one file gives its session, several give a record keyed by file name without `.onnx`. The toolkit releases these
   * sessions when the model is unloaded or the server stops.
   */
  loadOnnxModels(dir: string): Promise<OnnxSessions>;
  /** Loads one `.onnx` file, as {@link ModelContext.loadOnnxModels} does; released with the model too. */
  loadOnnxModel(file: string): Promise<InferenceSession>;
}

/**
 * Per-request facts and controls, passed to `inputFn`, `predictFn`, `outputFn` and `transformFn`.
 *
 * @example
 * ```ts
 * export function outputFn(prediction: number[], accept: string, ctx: RequestContext) {
 *   ctx.responseCustomAttributes = `model-version=3`;
 *   return { body: JSON.stringify(prediction), contentType: "application/json" };
 * }
 * ```
 */
export interface RequestContext {
  /** The request's Content-Type as sent (the default content type when absent). */
  readonly contentType: string;
  /** The request's Accept as sent (the default accept when absent or `*\/*`). */
  readonly accept: string;
  /** `X-Amzn-SageMaker-Custom-Attributes` of the request, opaque, if any. */
  readonly customAttributes: string | undefined;
  /**
   * Set to send `X-Amzn-SageMaker-Custom-Attributes` back to the client
   * (at most 1024 visible ASCII characters; docs/sagemaker-contract.md).
   */
  responseCustomAttributes: string | undefined;
  /** `X-Amzn-SageMaker-Inference-Id`, or one the toolkit generated when absent. */
  readonly inferenceId: string;
  /** `X-Amzn-SageMaker-Target-Model` (multi-model endpoints), if any. */
  readonly targetModel: string | undefined;
  /** `X-Amzn-SageMaker-Target-Variant`, if any. */
  readonly targetVariant: string | undefined;
  /** `X-Amzn-SageMaker-Session-Id` (stateful sessions), if any. */
  readonly sessionId: string | undefined;
  /**
   * The request's own parameters, in protocols whose requests carry them: the `parameters` object
   * of a Vertex AI prediction request (docs/vertex.md) or of a KServe V2 inference request
   * (docs/kserve-v2.md). Absent for SageMaker requests, whose bodies are the handlers' to read.
   */
  readonly parameters?: Readonly<Record<string, unknown>>;
  /** Logger bound to this request's inference id. Never log payloads at info. */
  readonly log: Logger;
  /** Fires when the response time limit passes or the client goes away. */
  readonly signal: AbortSignal;
}

/**
 * A response body written as it is produced: each chunk goes to the client as soon as it is
 * yielded, with back-pressure (docs/streaming.md).
 *
 * @example
 * ```ts
 * async function* rows(prediction: number[][]): ResponseStream {
 *   for (const row of prediction) yield `${JSON.stringify(row)}\n`;
 * }
 * ```
 */
export type ResponseStream = AsyncIterable<string | Uint8Array>;

/**
 * What `outputFn` and `transformFn` return: a body (bytes, text, or a {@link ResponseStream} of
 * chunks), or a body with its content type.
 */
export type HandlerOutput = EncodedBody | ResponseStream | { readonly body: EncodedBody | ResponseStream; readonly contentType: string };

/**
 * The handlers module: the Node twin of sagemaker-inference-toolkit's `model_fn`, `input_fn`,
 * `predict_fn`, `output_fn` and `transform_fn`. Export any of them; the rest use the defaults
 * (ONNX models in, codecs by content type and accept). `transformFn` replaces the other three
 * request handlers and may not be combined with them.
 *
 * @example
 * ```ts
 * import type { Handlers } from "sagemaker-byoc-node";
 * export const predictFn: Handlers["predictFn"] = async (input, model, ctx) => { ... };
 * ```
 */
export interface Handlers<Model = unknown, Input = unknown, Prediction = unknown> {
  /** Runs once per worker at start-up, before `/ping` answers 200. Default: {@link ModelContext.loadOnnxModels}. */
  modelFn?: (modelDir: string, ctx: ModelContext) => Model | Promise<Model>;
  /** Decodes the request body. Default: the codec registered for `contentType`. */
  inputFn?: (body: Buffer, contentType: string, ctx: RequestContext) => Input | Promise<Input>;
  /** Runs the model. Default: maps the input onto the ONNX session's inputs and runs it. */
  predictFn?: (input: Input, model: Model, ctx: RequestContext) => Prediction | Promise<Prediction>;
  /** Encodes the prediction. Default: the codec chosen from `accept`. */
  outputFn?: (prediction: Prediction, accept: string, ctx: RequestContext) => HandlerOutput | Promise<HandlerOutput>;
  /** Replaces `inputFn`, `predictFn` and `outputFn` with one function. */
  transformFn?: (
    model: Model,
    body: Buffer,
    contentType: string,
    accept: string,
    ctx: RequestContext,
  ) => HandlerOutput | Promise<HandlerOutput>;
  /**
   * Runs once after `modelFn`, before the model takes requests (and before `/ping` turns 200): a few
   * representative predictions, so the first client does not pay for lazy initialisation. Without it,
   * ONNX sessions run once on zero-filled inputs (`BYOC_ONNX_WARM_UP`).
   */
  warmUpFn?: (model: Model, ctx: ModelContext) => void | Promise<void>;
  /**
   * Runs once when the model is unloaded or the server stops, before the toolkit releases the ONNX
   * sessions it loaded: free what `modelFn` acquired outside them (files, connections, native handles).
   */
  unloadFn?: (model: Model, ctx: ModelContext) => void | Promise<void>;
  /**
   * This model's dynamic batching, over the server's `BYOC_BATCH_*` settings: `{ maxBatchSize,
   * maxDelayMs }` (either may be left out), or `false` to serve it one request per run. Applies to
   * the default predictFn's ONNX sessions.
   */
  batching?: Partial<BatchingSettings> | false;
  /** Extra codecs; one registered for a media type replaces the built-in one. */
  codecs?: readonly Codec[];
  /**
   * A pipeline of typed stages, built with `stages(first).then(next)...` (docs/pipelines.md), served
   * in place of the handlers above: each stage has its own model, handlers and settings. May be
   * combined with `codecs` only.
   */
  pipeline?: ComposedStages<never, unknown, unknown>;
}
