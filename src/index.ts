/**
 * sagemaker-byoc-node: serve Node.js handlers and ONNX models in SageMaker bring-your-own-container
 * endpoints. Everything users may import is listed here by name; internal helpers are not
 * exported (the worker protocol, body reading, the Express layer).
 */
export type { Handlers, HandlerOutput, ModelContext, RequestContext } from "./handlers/types.js";
export {
  BadRequestError,
  ConfigurationError,
  InferenceError,
  InferenceTimeoutError,
  isInferenceError,
  ModelArchiveError,
  ModelNotReadyError,
  NotAcceptableError,
  OverloadedError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from "./errors.js";
export type { DType, DTypeStorage, NDArray } from "./tensor/ndarray.js";
export { elementCount, isNDArray } from "./tensor/ndarray.js";
export type { Codec, DecodeOptions, EncodeOptions, EncodedBody } from "./codecs/codec.js";
export { CodecRegistry, type EncodedResponse } from "./codecs/registry.js";
export * from "./codecs/index.js";
export { negotiateAccept, parseMediaType, type MediaType } from "./codecs/media-type.js";
export { defaultConfig, loadConfig, type ConfigOverrides, type LogLevel, type ServerConfig } from "./config/server-config.js";
export { InferencePipeline, type InvocationRequest, type InvocationResult, type PipelineOptions } from "./pipeline/inference-pipeline.js";
export { startServer, type RunningServer } from "./server.js";
export { predictOnnx } from "./models/onnx/predict.js";
export { loadOnnxModels, releaseOnnxModels, type OnnxSessions } from "./models/onnx/load-models.js";
export { defaultOnnxSessionConfig, type ExecutionProviderName, type OnnxSessionConfig } from "./models/onnx/session-config.js";
export { extractModelArchive, defaultArchiveLimits, type ArchiveLimits } from "./models/artifacts/model-archive.js";

// Async inference: a local SageMaker Runtime gateway (InvokeEndpoint, InvokeEndpointAsync) with S3
// payloads, SNS notifications and a durable queue, in the model server's process or beside any
// container. See docs/async.md.
export {
  asyncModeEnabled,
  buildNotification,
  defaultAsyncConfig,
  HttpInvoker,
  InProcessInvoker,
  InvocationDroppedError,
  InvokerUnavailableError,
  loadAsyncConfig,
  loadAwsEndpoints,
  ModelInvocationError,
  RuntimeApiError,
  startAsyncGateway,
  type AsyncConfig,
  type AsyncConfigOverrides,
  type AsyncGatewayOptions,
  type AsyncRequestRecord,
  type AsyncRequestStatus,
  type AwsCredentials,
  type AwsEndpoints,
  type InferenceResponseTopic,
  type InferenceResultNotification,
  type Invoker,
  type NotificationStatus,
  type RunningAsyncGateway,
} from "./gateway/index.js";
