import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseLogLevel, type LogLevel } from "./server-config.js";
import { ConfigurationError } from "../errors.js";
import { EnvReader, parseList, type Env } from "./env-reader.js";
import { parseS3Uri } from "../gateway/async/s3-location.js";

/** Which notification carries the inference response inline (`IncludeInferenceResponseIn`). */
export type InferenceResponseTopic = "SUCCESS_NOTIFICATION_TOPIC" | "ERROR_NOTIFICATION_TOPIC";

/**
 * Where the AWS clients go: the region and the S3 and SNS endpoints (LocalStack, MinIO, s3rver...).
 *
 * @example
 * ```ts
 * const endpoints = loadAwsEndpoints({ AWS_REGION: "eu-west-1", BYOC_ASYNC_S3_ENDPOINT: "http://localhost:4566" });
 * endpoints.s3ForcePathStyle; // true
 * ```
 */
export interface AwsEndpoints {
  /** `BYOC_ASYNC_REGION`, else `AWS_REGION`, `SAGEMAKER_REGION`, `AWS_DEFAULT_REGION`; default `us-east-1`. */
  readonly region: string;
  /** S3 endpoint override. `BYOC_ASYNC_S3_ENDPOINT`, else `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`. */
  readonly s3Endpoint: string | undefined;
  /** Path-style S3 URLs (`http://host/bucket/key`). `BYOC_ASYNC_S3_FORCE_PATH_STYLE`; default: true with an endpoint override. */
  readonly s3ForcePathStyle: boolean;
  /** SNS endpoint override. `BYOC_ASYNC_SNS_ENDPOINT`, else `AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL`. */
  readonly snsEndpoint: string | undefined;
  /** SageMaker Runtime endpoint for the CLI's `invoke` commands (e.g. the local gateway). `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, `--endpoint-url`. */
  readonly runtimeEndpoint: string | undefined;
}

/**
 * Every setting of async inference: the gateway, the durable queue, the worker and the
 * notifications. {@link loadAsyncConfig} fills it from defaults, the environment and overrides
 * (CLI flags), flags winning. docs/async.md lists each with its variable, default and unit.
 *
 * @example
 * ```ts
 * const config = loadAsyncConfig(process.env, { s3OutputPath: "s3://bucket/out" });
 * ```
 */
export interface AsyncConfig extends AwsEndpoints {
  /** The endpoint name clients call. `BYOC_ASYNC_ENDPOINT_NAME`, `--endpoint-name`; default `local-endpoint`. */
  readonly endpointName: string;
  /** Account id in error messages ("Endpoint X of account Y not found."). `BYOC_ASYNC_ACCOUNT_ID`; default `000000000000`. */
  readonly accountId: string;
  /** `X-Amzn-Invoked-Production-Variant` of real-time answers. `BYOC_ASYNC_VARIANT_NAME`; default `AllTraffic`. */
  readonly variantName: string;
  /** `S3OutputPath`: where outputs go, as `<path>/<inference id>.out`. `BYOC_ASYNC_S3_OUTPUT_PATH`, `--s3-output-path`. Required to start. */
  readonly s3OutputPath: string | undefined;
  /** `S3FailurePath`: where failures go, as `<path>/<inference id>-error.out`. `BYOC_ASYNC_S3_FAILURE_PATH`, `--s3-failure-path`. */
  readonly s3FailurePath: string | undefined;
  /** `SuccessTopic` ARN. `BYOC_ASYNC_SUCCESS_TOPIC`. */
  readonly successTopic: string | undefined;
  /** `ErrorTopic` ARN. `BYOC_ASYNC_ERROR_TOPIC`. */
  readonly errorTopic: string | undefined;
  /** `IncludeInferenceResponseIn`: comma-separated `SUCCESS_NOTIFICATION_TOPIC`, `ERROR_NOTIFICATION_TOPIC`. `BYOC_ASYNC_INCLUDE_INFERENCE_RESPONSE_IN`. */
  readonly includeInferenceResponseIn: readonly InferenceResponseTopic[];
  /** `MaxConcurrentInvocationsPerInstance`. `BYOC_ASYNC_MAX_CONCURRENT_INVOCATIONS`, `--max-concurrent-invocations`; default: CPU count. */
  readonly maxConcurrentInvocations: number;
  /** Largest input object in bytes. `BYOC_ASYNC_MAX_PAYLOAD_BYTES`; default 1 GB, SageMaker's limit. */
  readonly maxPayloadBytes: number;
  /** Most requests queued or running; beyond it InvokeEndpointAsync answers ServiceUnavailable (503). `BYOC_ASYNC_MAX_QUEUED_REQUESTS`; default 10000. */
  readonly maxQueuedRequests: number;
  /** The durable queue's directory, locked by the gateway using it. `BYOC_ASYNC_QUEUE_DIR`, `--queue-dir`; default `<tmp>/sagemaker-byoc-async/<endpoint name>`. */
  readonly queueDir: string;
  /** How long finished requests stay listed (and their ids deduplicated), in ms. `BYOC_ASYNC_RETENTION_SECONDS`; default 7 days. */
  readonly retentionMs: number;
  /** `RequestTTLSeconds` when the request sets none. `BYOC_ASYNC_REQUEST_TTL_SECONDS`; default 21600 (60-21600). */
  readonly defaultRequestTtlSeconds: number;
  /** `InvocationTimeoutSeconds` when the request sets none. `BYOC_ASYNC_INVOCATION_TIMEOUT_SECONDS`; default 900 (1-3600). */
  readonly defaultInvocationTimeoutSeconds: number;
  /** First retry delay for transient S3/SNS/container errors, in ms. `BYOC_ASYNC_RETRY_BASE_SECONDS`; default 0.5 s. */
  readonly retryBaseMs: number;
  /** Longest retry delay, in ms. `BYOC_ASYNC_RETRY_MAX_SECONDS`; default 30 s. */
  readonly retryMaxMs: number;
  /** Gateway port. `BYOC_ASYNC_PORT`, `--async-port` (`serve`) or `--port` (`gateway`); default 8081. */
  readonly port: number;
  /** Gateway interface. `BYOC_ASYNC_HOST`; default `0.0.0.0`. */
  readonly host: string;
  /** The container's `/invocations` URL when the gateway runs beside it. `BYOC_ASYNC_INVOCATIONS_URL`, `--invocations-url`. */
  readonly invocationsUrl: string | undefined;
  /** `SAGEMAKER_CONTAINER_LOG_LEVEL`, `--log-level`. */
  readonly logLevel: LogLevel;
  /** How long SIGTERM waits for running invocations, in ms (`BYOC_SHUTDOWN_TIMEOUT_SECONDS`). */
  readonly shutdownTimeoutMs: number;
}

/** Settings a caller (CLI flags, tests, embedding code) may override. */
export type AsyncConfigOverrides = { -readonly [K in keyof AsyncConfig]?: AsyncConfig[K] | undefined };

const GB = 1024 * 1024 * 1024;

/** The defaults, before the environment and overrides. */
export const defaultAsyncConfig: AsyncConfig = {
  endpointName: "local-endpoint",
  accountId: "000000000000",
  variantName: "AllTraffic",
  region: "us-east-1",
  s3Endpoint: undefined,
  s3ForcePathStyle: false,
  snsEndpoint: undefined,
  runtimeEndpoint: undefined,
  s3OutputPath: undefined,
  s3FailurePath: undefined,
  successTopic: undefined,
  errorTopic: undefined,
  includeInferenceResponseIn: [],
  maxConcurrentInvocations: availableParallelism(),
  maxPayloadBytes: GB,
  maxQueuedRequests: 10_000,
  queueDir: defaultQueueDir("local-endpoint"),
  retentionMs: 7 * 24 * 3600 * 1000,
  defaultRequestTtlSeconds: 21_600,
  defaultInvocationTimeoutSeconds: 900,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  port: 8081,
  host: "0.0.0.0",
  invocationsUrl: undefined,
  logLevel: "info",
  shutdownTimeoutMs: 25_000,
};

/** SageMaker's limits on the per-request headers (docs/async.md). */
export const requestTtlLimits = { min: 60, max: 21_600 } as const;
export const invocationTimeoutLimits = { min: 1, max: 3600 } as const;

const endpointNamePattern = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const topicArnPattern = /^arn:aws[a-z-]*:sns:[a-z0-9-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$/;
const responseTopics: readonly InferenceResponseTopic[] = ["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"];

/**
 * Reads the region and endpoint overrides, for the gateway and the CLI clients alike.
 *
 * @example
 * ```ts
 * const { region, s3Endpoint } = loadAwsEndpoints(process.env);
 * ```
 */
export function loadAwsEndpoints(env: Env = process.env, overrides: Partial<AwsEndpoints> = {}): AwsEndpoints {
  const read = new EnvReader(env);
  const region =
    overrides.region ??
    read.optionalString("BYOC_ASYNC_REGION") ??
    read.optionalString("AWS_REGION") ??
    read.optionalString("SAGEMAKER_REGION") ??
    read.optionalString("AWS_DEFAULT_REGION") ??
    defaultAsyncConfig.region;
  const s3Endpoint = overrides.s3Endpoint ?? endpointUrl(read, ["BYOC_ASYNC_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]);
  const snsEndpoint = overrides.snsEndpoint ?? endpointUrl(read, ["BYOC_ASYNC_SNS_ENDPOINT", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL"]);
  const s3ForcePathStyle = overrides.s3ForcePathStyle ?? read.boolean("BYOC_ASYNC_S3_FORCE_PATH_STYLE", s3Endpoint !== undefined);
  const runtimeEndpoint = overrides.runtimeEndpoint ?? endpointUrl(read, ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"]);
  return { region, s3Endpoint, s3ForcePathStyle, snsEndpoint, runtimeEndpoint };
}

/**
 * Reads the environment, applies `overrides` and validates, throwing a {@link ConfigurationError}
 * that names the variable and what it accepts. `s3OutputPath` may be absent here (listing the
 * queue needs none); starting the gateway requires it ({@link requireOutputPath}).
 *
 * @example
 * ```ts
 * const config = loadAsyncConfig(process.env, { queueDir: "/var/lib/byoc-async" });
 * ```
 */
export function loadAsyncConfig(env: Env = process.env, overrides: AsyncConfigOverrides = {}): AsyncConfig {
  const read = new EnvReader(env);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) as Partial<AsyncConfig>;
  const fromEnv: Omit<AsyncConfig, "queueDir"> & { readonly queueDir: string | undefined } = {
    ...loadAwsEndpoints(env, defined),
    endpointName: read.string("BYOC_ASYNC_ENDPOINT_NAME", defaultAsyncConfig.endpointName),
    accountId: read.string("BYOC_ASYNC_ACCOUNT_ID", defaultAsyncConfig.accountId),
    variantName: read.string("BYOC_ASYNC_VARIANT_NAME", defaultAsyncConfig.variantName),
    s3OutputPath: read.optionalString("BYOC_ASYNC_S3_OUTPUT_PATH"),
    s3FailurePath: read.optionalString("BYOC_ASYNC_S3_FAILURE_PATH"),
    successTopic: read.optionalString("BYOC_ASYNC_SUCCESS_TOPIC"),
    errorTopic: read.optionalString("BYOC_ASYNC_ERROR_TOPIC"),
    includeInferenceResponseIn: readResponseTopics(read),
    maxConcurrentInvocations: read.integer("BYOC_ASYNC_MAX_CONCURRENT_INVOCATIONS", defaultAsyncConfig.maxConcurrentInvocations, 1, 10_000),
    maxPayloadBytes: read.integer("BYOC_ASYNC_MAX_PAYLOAD_BYTES", defaultAsyncConfig.maxPayloadBytes, 1, Number.MAX_SAFE_INTEGER),
    maxQueuedRequests: read.integer("BYOC_ASYNC_MAX_QUEUED_REQUESTS", defaultAsyncConfig.maxQueuedRequests, 1, 10_000_000),
    queueDir: read.optionalString("BYOC_ASYNC_QUEUE_DIR"),
    retentionMs: read.seconds("BYOC_ASYNC_RETENTION_SECONDS", defaultAsyncConfig.retentionMs),
    defaultRequestTtlSeconds: read.integer(
      "BYOC_ASYNC_REQUEST_TTL_SECONDS",
      defaultAsyncConfig.defaultRequestTtlSeconds,
      requestTtlLimits.min,
      requestTtlLimits.max,
    ),
    defaultInvocationTimeoutSeconds: read.integer(
      "BYOC_ASYNC_INVOCATION_TIMEOUT_SECONDS",
      defaultAsyncConfig.defaultInvocationTimeoutSeconds,
      invocationTimeoutLimits.min,
      invocationTimeoutLimits.max,
    ),
    retryBaseMs: read.seconds("BYOC_ASYNC_RETRY_BASE_SECONDS", defaultAsyncConfig.retryBaseMs),
    retryMaxMs: read.seconds("BYOC_ASYNC_RETRY_MAX_SECONDS", defaultAsyncConfig.retryMaxMs),
    port: read.integer("BYOC_ASYNC_PORT", defaultAsyncConfig.port, 0, 65535),
    host: read.string("BYOC_ASYNC_HOST", defaultAsyncConfig.host),
    invocationsUrl: endpointUrl(read, ["BYOC_ASYNC_INVOCATIONS_URL"]),
    logLevel: parseLogLevel("SAGEMAKER_CONTAINER_LOG_LEVEL", env["SAGEMAKER_CONTAINER_LOG_LEVEL"]) ?? defaultAsyncConfig.logLevel,
    shutdownTimeoutMs: read.seconds("BYOC_SHUTDOWN_TIMEOUT_SECONDS", defaultAsyncConfig.shutdownTimeoutMs),
  };
  const merged = { ...fromEnv, ...defined };
  const config: AsyncConfig = { ...merged, queueDir: merged.queueDir ?? defaultQueueDir(merged.endpointName) };
  validate(config);
  return config;
}

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
 * accepted without somewhere to put the result.
 *
 * @example
 * ```ts
 * const outputPath = requireOutputPath(config); // "s3://bucket/out"
 * ```
 */
export function requireOutputPath(config: AsyncConfig): string {
  if (config.s3OutputPath === undefined) {
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
  return new EnvReader(env).boolean("BYOC_ASYNC_ENABLED", false);
}

function readResponseTopics(read: EnvReader): InferenceResponseTopic[] {
  const raw = read.optionalString("BYOC_ASYNC_INCLUDE_INFERENCE_RESPONSE_IN");
  if (raw === undefined) return [];
  return parseList("BYOC_ASYNC_INCLUDE_INFERENCE_RESPONSE_IN", raw.toLowerCase(), responseTopics.map((topic) => topic.toLowerCase())).map(
    (topic) => topic.toUpperCase() as InferenceResponseTopic,
  );
}

function endpointUrl(read: EnvReader, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = read.optionalString(name);
    if (value === undefined) continue;
    checkUrl(name, value);
    return value;
  }
  return undefined;
}

function checkUrl(name: string, value: string): void {
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    protocol = "";
  }
  if (protocol !== "http:" && protocol !== "https:") throw new ConfigurationError(`${name}=${JSON.stringify(value)} must be an http:// or https:// URL`);
}

function validate(config: AsyncConfig): void {
  if (!endpointNamePattern.test(config.endpointName) || config.endpointName.length > 63) {
    throw new ConfigurationError(
      `BYOC_ASYNC_ENDPOINT_NAME=${JSON.stringify(config.endpointName)} must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit`,
    );
  }
  if (!/^[0-9]{12}$/.test(config.accountId)) throw new ConfigurationError(`BYOC_ASYNC_ACCOUNT_ID=${JSON.stringify(config.accountId)} must be 12 digits`);
  for (const [name, value] of [
    ["BYOC_ASYNC_S3_OUTPUT_PATH", config.s3OutputPath],
    ["BYOC_ASYNC_S3_FAILURE_PATH", config.s3FailurePath],
  ] as const) {
    if (value !== undefined && (!value.startsWith("s3://") || parseS3Uri(value) === undefined)) {
      throw new ConfigurationError(`${name}=${JSON.stringify(value)} must be an S3 URI such as s3://bucket/prefix`);
    }
  }
  for (const [name, value] of [
    ["BYOC_ASYNC_SUCCESS_TOPIC", config.successTopic],
    ["BYOC_ASYNC_ERROR_TOPIC", config.errorTopic],
  ] as const) {
    if (value !== undefined && !topicArnPattern.test(value)) {
      throw new ConfigurationError(`${name}=${JSON.stringify(value)} must be an SNS topic ARN such as arn:aws:sns:us-east-1:000000000000:name`);
    }
  }
  if (config.invocationsUrl !== undefined) checkUrl("--invocations-url", config.invocationsUrl);
  if (config.retryMaxMs < config.retryBaseMs) {
    throw new ConfigurationError(`BYOC_ASYNC_RETRY_MAX_SECONDS (${config.retryMaxMs / 1000}) must not be below BYOC_ASYNC_RETRY_BASE_SECONDS (${config.retryBaseMs / 1000})`);
  }
}
