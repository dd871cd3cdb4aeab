/**
 * `sagemaker-byoc-node/gateway`: the local SageMaker Runtime (InvokeEndpoint, InvokeEndpointAsync)
 * with S3 payloads, SNS notifications and a durable queue, in the model server's process or
 * beside any container (docs/async.md); with a ModelDataUrl, the front end of a multi-model
 * endpoint (docs/multi-model.md, "Local gateway").
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
