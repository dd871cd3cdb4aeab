/**
 * sagemaker-byoc-node: what a handlers file imports. Everything is listed by name; the rest of
 * the toolkit has its own entry points:
 * - `sagemaker-byoc-node/codecs`: the built-in codecs and the registry, for custom codecs that wrap them;
 * - `sagemaker-byoc-node/server`: starting the server from code, its settings, ONNX loading and model archives;
 * - `sagemaker-byoc-node/gateway`: the local SageMaker Runtime gateway (async inference), from code.
 * Internal modules (the worker protocol, body reading, the request listener) are not exported.
 */
export type { HandlerOutput, Handlers, ModelContext, RequestContext, ResponseStream } from "./handlers/types.js";
export {
  BadRequestError,
  ConfigurationError,
  InferenceError,
  InferenceTimeoutError,
  isErrorStatusCode,
  isInferenceError,
  ModelNotReadyError,
  NotAcceptableError,
  OverloadedError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  type ErrorStatusCode,
} from "./errors.js";
export { elementCount, isNDArray, type DType, type DTypeStorage, type NDArray } from "./tensor/ndarray.js";
export type { Codec, DecodeOptions, EncodedBody, EncodeOptions } from "./codecs/codec.js";
export { negotiateAccept, parseMediaType, type MediaType } from "./codecs/media-type.js";
export { predictOnnx, type PredictOnnxOptions } from "./models/onnx/predict.js";
export type { OnnxSessions } from "./models/onnx/load-models.js";
export type { ModelSignature, TensorSpec } from "./models/model.js";
export {
  answerEarly,
  defineStage,
  type EarlyAnswer,
  type OnnxOutput,
  type OnnxStageSpec,
  type Stage,
  type StageSettings,
  type StageSpec,
} from "./pipeline/stages/stage.js";
export { stages, type ComposedStages, type StageOutputFn, type StagePipeline } from "./pipeline/stages/stage-pipeline.js";
