/**
 * `sagemaker-byoc-node/gateway`: the local SageMaker Runtime (InvokeEndpoint, InvokeEndpointAsync)
 * with S3 payloads, SNS notifications and a durable queue, in the model server's process or
 * beside any container (docs/async.md); with a ModelDataUrl, the front end of a multi-model
 * endpoint (docs/multi-model.md, "Local gateway"); and multi-container endpoints, serial
 * inference pipelines or direct invocation, over 2 to 15 containers (docs/pipelines.md).
 */
export {
  asyncModeEnabled,
  buildNotification,
  defaultAsyncConfig,
  HttpInvoker,
  HttpModelHost,
  InProcessInvoker,
  InProcessModelHost,
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
  type ModelHost,
  type NotificationStatus,
  type RunningAsyncGateway,
} from "../gateway/index.js";
export { loadPipelineConfig, type InferenceExecutionMode, type PipelineConfig, type PipelineConfigOverrides } from "../config/pipeline-config.js";
export { startPipelineGateway, type PipelineGatewayOptions, type RunningPipelineGateway } from "../gateway/pipeline/index.js";
export type { ContainerOutput } from "../gateway/pipeline/local-container.js";
