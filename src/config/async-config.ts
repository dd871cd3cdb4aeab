import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigurationError } from "../errors.js";
import { boolean, httpUrl, integer, listOf, matching, maxTimerSeconds, region, s3Uri, sagemakerName, seconds, text } from "./kinds.js";
import { resolveSettings, type Env } from "./resolve.js";
import { defineSettings, flag, setting, type SettingsOverrides, type SettingsValues } from "./setting.js";
import { logLevelSetting, shutdownTimeoutSetting } from "./server-config.js";

/** Which notification carries the inference response inline (`IncludeInferenceResponseIn`). */
export type InferenceResponseTopic = "SUCCESS_NOTIFICATION_TOPIC" | "ERROR_NOTIFICATION_TOPIC";

/** SageMaker's limits on the per-request headers (docs/async.md). */
export const requestTtlLimits = { min: 60, max: 21_600 } as const;
export const invocationTimeoutLimits = { min: 1, max: 3600 } as const;

const s3Endpoint = setting({
  kind: httpUrl(),
  env: ["BYOC_ASYNC_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"],
  flag: flag("--s3-endpoint", ["invoke-async"]),
  unset: "AWS",
  description: "S3 endpoint override (LocalStack, MinIO)",
});

/** Where the AWS clients go: the region and the S3, SNS and SageMaker Runtime endpoints. */
export const awsEndpointSettings = defineSettings({
  region: setting({
    kind: region(),
    env: ["BYOC_ASYNC_REGION", "AWS_REGION", "SAGEMAKER_REGION", "AWS_DEFAULT_REGION"],
    flag: flag("--region", ["invoke", "invoke-async"]),
    default: "us-east-1",
    description: "region of the clients and of `awsRegion` in notifications",
  }),
  s3Endpoint,
  s3ForcePathStyle: setting({
    kind: boolean(),
    env: "BYOC_ASYNC_S3_FORCE_PATH_STYLE",
    derive: { text: "true with an S3 endpoint override", from: (read) => read(s3Endpoint) !== undefined },
    description: "path-style S3 URLs (`http://host/bucket/key`)",
  }),
  snsEndpoint: setting({
    kind: httpUrl(),
    env: ["BYOC_ASYNC_SNS_ENDPOINT", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL"],
    unset: "AWS",
    description: "SNS endpoint override",
  }),
  runtimeEndpoint: setting({
    kind: httpUrl(),
    env: "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
    flag: flag("--endpoint-url", ["invoke", "invoke-async"]),
    unset: "AWS",
    description: "where the CLI sends `InvokeEndpoint(Async)`, such as the local gateway",
  }),
});

/**
 * Where the AWS clients go: the region and the S3 and SNS endpoints (LocalStack, MinIO, s3rver...).
 *
 * @example
 * ```ts
 * const endpoints: AwsEndpoints = loadAwsEndpoints({ AWS_REGION: "eu-west-1", BYOC_ASYNC_S3_ENDPOINT: "http://localhost:4566" });
 * endpoints.s3ForcePathStyle; // true
 * ```
 */
export type AwsEndpoints = SettingsValues<typeof awsEndpointSettings.tree>;

const endpointName = setting({
  kind: sagemakerName(),
  env: "BYOC_ASYNC_ENDPOINT_NAME",
  flag: flag("--endpoint-name", ["serve", "gateway", "invoke", "invoke-async", "async-requests"]),
  default: "local-endpoint",
  description: "the endpoint name clients call; other names get \"not found\"",
});
const topicArn = matching(/^arn:aws[a-z-]*:sns:[a-z0-9-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$/, "an SNS topic ARN such as arn:aws:sns:us-east-1:000000000000:name", {
  placeholder: "<arn>",
});
const retryBaseMs = setting({
  kind: seconds({ max: maxTimerSeconds }),
  env: "BYOC_ASYNC_RETRY_BASE_SECONDS",
  default: 500,
  description: "first retry delay ceiling for transient S3, SNS and container errors",
});
const retryMaxMs = setting({
  kind: seconds({ max: maxTimerSeconds }),
  env: "BYOC_ASYNC_RETRY_MAX_SECONDS",
  default: 30_000,
  description: "longest retry delay",
});

const modelCacheDir = setting({
  kind: text("a directory", { placeholder: "<dir>" }),
  env: "BYOC_MME_CACHE_DIR",
  flag: flag("--model-cache-dir", ["gateway"]),
  default: "/opt/ml/models",
  description:
    "multi-model: where the gateway keeps the models it fetched, one `<model name>/model` folder each, as SageMaker lays them out; the container's models root must be this directory (`serve --async` uses the server's `--models-root`)",
});

/**
 * The gateway as SageMaker's front end of a multi-model endpoint (docs/multi-model.md, "Local
 * gateway"): on with a ModelDataUrl prefix.
 */
export const multiModelGatewaySettings = {
  modelDataUrl: setting({
    kind: s3Uri(),
    env: "BYOC_MME_MODEL_DATA_URL",
    flag: flag("--model-data-url", ["serve", "gateway"]),
    unset: "none: a single-model endpoint",
    description:
      "multi-model: CreateModel's `ModelDataUrl` prefix; `InvokeEndpoint` with `TargetModel` fetches `<prefix>/<TargetModel>` from S3, loads it into the container (`POST /models`) and invokes it",
  }),
  cacheDir: modelCacheDir,
  cacheMaxBytes: setting({
    kind: integer({ min: 1, unit: "bytes" }),
    env: "BYOC_MME_CACHE_MAX_BYTES",
    flag: flag("--model-cache-max-bytes", ["serve", "gateway"]),
    default: 20 * 1024 ** 3,
    description: "multi-model: disk the fetched models may use together, extracted; past it, the least recently used are removed, those the container does not hold first",
  }),
  containerModelsDir: setting({
    kind: text("a directory", { placeholder: "<dir>" }),
    env: "BYOC_MME_CONTAINER_MODELS_DIR",
    flag: flag("--container-models-dir", ["gateway"]),
    derive: { text: "the cache directory", from: (read) => read(modelCacheDir) },
    description: "multi-model: the cache directory as the container sees it (a volume mounted elsewhere); `POST /models` gets `<it>/<model name>/model`",
  }),
};

/** Turns the async gateway on beside `serve`; not part of {@link AsyncConfig}, which is read only when it is on. */
export const asyncModeSettings = defineSettings({
  enabled: setting({
    kind: boolean(),
    env: "BYOC_ASYNC_ENABLED",
    flag: flag("--async", ["serve"], { sets: true }),
    default: false,
    description: "run the async gateway in the model server's process",
  }),
});

/**
 * Every async setting, declared once: the gateway, the durable queue, the worker and the
 * notifications. docs/async.md's table is generated from it.
 */
export const asyncSettings = defineSettings(
  {
    endpointName,
    s3OutputPath: setting({
      kind: s3Uri(),
      env: "BYOC_ASYNC_S3_OUTPUT_PATH",
      flag: flag("--s3-output-path", ["serve", "gateway"]),
      unset: "none; required to start",
      description: "`S3OutputPath`: outputs go to `<path>/<inference-id>.out`",
    }),
    s3FailurePath: setting({
      kind: s3Uri(),
      env: "BYOC_ASYNC_S3_FAILURE_PATH",
      flag: flag("--s3-failure-path", ["serve", "gateway"]),
      unset: "none",
      description: "`S3FailurePath`: failures go to `<path>/<inference-id>-error.out`",
    }),
    successTopic: setting({ kind: topicArn, env: "BYOC_ASYNC_SUCCESS_TOPIC", unset: "none", description: "`SuccessTopic` ARN; no success notification without it" }),
    errorTopic: setting({ kind: topicArn, env: "BYOC_ASYNC_ERROR_TOPIC", unset: "none", description: "`ErrorTopic` ARN; no error notification without it" }),
    includeInferenceResponseIn: setting({
      kind: listOf<InferenceResponseTopic>(["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"], { allowEmpty: true }),
      env: "BYOC_ASYNC_INCLUDE_INFERENCE_RESPONSE_IN",
      default: [],
      description: "`IncludeInferenceResponseIn`: notifications that carry the response inline (up to 128 KB)",
    }),
    maxConcurrentInvocations: setting({
      kind: integer({ min: 1, max: 10_000 }),
      env: "BYOC_ASYNC_MAX_CONCURRENT_INVOCATIONS",
      flag: flag("--max-concurrent-invocations", ["serve", "gateway"]),
      derive: { text: "CPU count", from: () => availableParallelism() },
      description: "`MaxConcurrentInvocationsPerInstance`",
    }),
    maxPayloadBytes: setting({
      kind: integer({ min: 1, unit: "bytes" }),
      env: "BYOC_ASYNC_MAX_PAYLOAD_BYTES",
      default: 1024 ** 3,
      description: "largest input object (SageMaker's limit is 1 GB)",
    }),
    maxQueuedRequests: setting({
      kind: integer({ min: 1, max: 10_000_000 }),
      env: "BYOC_ASYNC_MAX_QUEUED_REQUESTS",
      default: 10_000,
      description: "requests queued or running at once; beyond it InvokeEndpointAsync answers `ServiceUnavailable` (503)",
    }),
    queueDir: setting({
      kind: text("a directory", { placeholder: "<dir>" }),
      env: "BYOC_ASYNC_QUEUE_DIR",
      flag: flag("--queue-dir", ["serve", "gateway", "async-requests"]),
      derive: { text: "`$TMPDIR/sagemaker-byoc-async/<endpoint-name>`", from: (read) => defaultQueueDir(read(endpointName)) },
      description: "the durable queue, locked by one gateway; use a persistent volume in containers",
    }),
    retentionMs: setting({
      kind: seconds(),
      env: "BYOC_ASYNC_RETENTION_SECONDS",
      default: 7 * 24 * 3600 * 1000,
      description: "how long finished requests stay listed and their ids deduplicated",
    }),
    defaultRequestTtlSeconds: setting({
      kind: integer({ ...requestTtlLimits, unit: "seconds" }),
      env: "BYOC_ASYNC_REQUEST_TTL_SECONDS",
      default: 21_600,
      description: "`RequestTTLSeconds` when the request sets none",
    }),
    defaultInvocationTimeoutSeconds: setting({
      kind: integer({ ...invocationTimeoutLimits, unit: "seconds" }),
      env: "BYOC_ASYNC_INVOCATION_TIMEOUT_SECONDS",
      default: 900,
      description: "`InvocationTimeoutSeconds` when the request sets none",
    }),
    retryBaseMs,
    retryMaxMs,
    port: setting({
      kind: integer({ min: 0, max: 65535 }),
      env: "BYOC_ASYNC_PORT",
      flag: [flag("--async-port", ["serve"]), flag("--port", ["gateway"])],
      default: 8081,
      description: "gateway port",
    }),
    host: setting({
      kind: text("an interface address", { placeholder: "<addr>" }),
      env: "BYOC_ASYNC_HOST",
      flag: flag("--host", ["gateway"]),
      default: "0.0.0.0",
      description: "gateway interface",
    }),
    invocationsUrl: setting({
      kind: httpUrl(),
      env: "BYOC_ASYNC_INVOCATIONS_URL",
      flag: flag("--invocations-url", ["gateway"]),
      unset: "none; gateway requires it",
      description: "the container's `/invocations`, such as `http://localhost:8080/invocations`",
    }),
    multiModel: multiModelGatewaySettings,
    ...awsEndpointSettings.tree,
    accountId: setting({
      kind: matching(/^[0-9]{12}$/, "12 digits", { placeholder: "<id>" }),
      env: "BYOC_ASYNC_ACCOUNT_ID",
      default: "000000000000",
      description: "account id in \"not found\" messages and `LogStreamArn`",
    }),
    variantName: setting({
      kind: sagemakerName(),
      env: "BYOC_ASYNC_VARIANT_NAME",
      default: "AllTraffic",
      description: "`X-Amzn-Invoked-Production-Variant` of real-time answers",
    }),
    logLevel: logLevelSetting,
    shutdownTimeoutMs: shutdownTimeoutSetting,
  },
  [({ read, given }) => (read(retryMaxMs) < read(retryBaseMs) ? `${given(retryMaxMs)} must not be below ${given(retryBaseMs)}` : undefined)],
);

/**
 * Every setting of async inference: the gateway, the durable queue, the worker and the
 * notifications. {@link loadAsyncConfig} fills it from defaults, the environment and overrides
 * (code or CLI flags), in that order of precedence. docs/async.md lists each.
 *
 * @example
 * ```ts
 * const config: AsyncConfig = loadAsyncConfig(process.env, { s3OutputPath: "s3://bucket/out" });
 * ```
 */
export type AsyncConfig = SettingsValues<typeof asyncSettings.tree>;

/**
 * Settings a caller (tests, embedding code) may override; `undefined` leaves a setting to the
 * environment. Durations are in milliseconds (`retryBaseMs`) unless the name says seconds.
 *
 * @example
 * ```ts
 * const overrides: AsyncConfigOverrides = { queueDir: "/var/lib/byoc-async", retryMaxMs: 10_000 };
 * ```
 */
export type AsyncConfigOverrides = SettingsOverrides<typeof asyncSettings.tree>;

/**
 * Reads the region and endpoint overrides, for the gateway and the CLI clients alike.
 *
 * @example
 * ```ts
 * const { region, s3Endpoint } = loadAwsEndpoints(process.env);
 * ```
 */
export function loadAwsEndpoints(env: Env = process.env, overrides: SettingsOverrides<typeof awsEndpointSettings.tree> = {}): AwsEndpoints {
  return resolveSettings(awsEndpointSettings, { env, overrides });
}

/**
 * Reads the environment, applies `overrides` and validates, throwing one {@link ConfigurationError}
 * that names each invalid setting and what it accepts. `s3OutputPath` may be absent here (listing
 * the queue needs none); starting the gateway requires it ({@link requireOutputPath}).
 *
 * @example
 * ```ts
 * const config = loadAsyncConfig(process.env, { queueDir: "/var/lib/byoc-async" });
 * ```
 */
export function loadAsyncConfig(env: Env = process.env, overrides: AsyncConfigOverrides = {}): AsyncConfig {
  return resolveSettings(asyncSettings, { env, overrides });
}

/**
 * The defaults, with no environment and no overrides, on this machine.
 *
 * @example
 * ```ts
 * defaultAsyncConfig.port; // 8081
 * ```
 */
export const defaultAsyncConfig: AsyncConfig = loadAsyncConfig({});

/**
 * The queue directory when none is set: one per endpoint name under the OS's temporary
 * directory, so gateways of different endpoints on one machine never share (or lock) one.
 *
 * @example
 * ```ts
 * defaultQueueDir("my-endpoint"); // "/tmp/sagemaker-byoc-async/my-endpoint"
 * ```
 */
export function defaultQueueDir(endpointName: string): string {
  return join(tmpdir(), "sagemaker-byoc-async", endpointName);
}

/**
 * The output path, or a {@link ConfigurationError} saying how to set it: nothing can be
 * accepted without somewhere to put the result. A multi-model gateway (a ModelDataUrl set) needs
 * none: SageMaker's asynchronous inference does not serve multi-model endpoints, so it answers
 * InvokeEndpointAsync with a ValidationError unless an output path is set anyway.
 *
 * @example
 * ```ts
 * const outputPath = requireOutputPath(config); // "s3://bucket/out"
 * ```
 */
export function requireOutputPath(config: AsyncConfig): string | undefined {
  if (config.s3OutputPath === undefined && config.multiModel.modelDataUrl === undefined) {
    throw new ConfigurationError("Async inference needs an output path: set BYOC_ASYNC_S3_OUTPUT_PATH (or --s3-output-path) to s3://bucket/prefix");
  }
  return config.s3OutputPath;
}

/**
 * True when `BYOC_ASYNC_ENABLED` turns on the async gateway beside `serve` (the `--async` flag does too).
 *
 * @example
 * ```ts
 * if (asyncModeEnabled(process.env)) console.log("async gateway on 8081");
 * ```
 */
export function asyncModeEnabled(env: Env): boolean {
  return resolveSettings(asyncModeSettings, { env }).enabled;
}
