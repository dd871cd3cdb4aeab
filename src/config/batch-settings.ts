import { boolean, integer, oneOf } from "./kinds.js";
import { setting, type SettingsRule } from "./setting.js";

/** `SAGEMAKER_BATCH_STRATEGY` and `GET /execution-parameters` spell the strategies this way. */
export const containerBatchStrategies = ["SINGLE_RECORD", "MULTI_RECORD"] as const;

/**
 * A batch strategy as the container side spells it (the API's `SingleRecord` and `MultiRecord`).
 *
 * @example
 * ```ts
 * const strategy: ContainerBatchStrategy = "MULTI_RECORD";
 * ```
 */
export type ContainerBatchStrategy = (typeof containerBatchStrategies)[number];

/** SageMaker's ceiling on `MaxPayloadInMB`, and on `MaxConcurrentTransforms × MaxPayloadInMB` (docs/batch.md). */
export const maxPayloadInMbLimit = 100;

/** One "MB" of `MaxPayloadInMB`: SageMaker's 6 MB default is the 6 MiB real-time limit (docs/batch.md). */
export const bytesPerPayloadMb = 1024 * 1024;

const strategy = oneOf(containerBatchStrategies);

const suggestedConcurrency = setting({
  kind: integer({ min: 1, max: maxPayloadInMbLimit }),
  env: "BYOC_EXECUTION_MAX_CONCURRENT_TRANSFORMS",
  unset: "the worker count",
  description: "`MaxConcurrentTransforms` that `GET /execution-parameters` suggests",
});
const suggestedPayload = setting({
  kind: integer({ min: 1, max: maxPayloadInMbLimit }),
  env: "BYOC_EXECUTION_MAX_PAYLOAD_IN_MB",
  unset: "6, less when 6 × the concurrency would pass 100",
  description: "`MaxPayloadInMB` that `GET /execution-parameters` suggests",
});

/**
 * Batch transform settings: what SageMaker sets in a transform job (`SAGEMAKER_BATCH`,
 * `SAGEMAKER_MAX_PAYLOAD_IN_MB`, `SAGEMAKER_BATCH_STRATEGY`, `SAGEMAKER_MAX_CONCURRENT_TRANSFORMS`)
 * and what `GET /execution-parameters` suggests when the job leaves its parameters to the
 * container. docs/batch.md says what each changes.
 */
export const batchSettingsTree = {
  enabled: setting({
    kind: boolean(),
    env: "SAGEMAKER_BATCH",
    default: false,
    description: "`true` in a batch transform job (SageMaker sets it): checks that answers hold as many records as requests, and answers a request without Accept in its own record type (docs/batch.md)",
  }),
  maxPayloadInMb: setting({
    kind: integer({ min: 0, max: maxPayloadInMbLimit }),
    env: "SAGEMAKER_MAX_PAYLOAD_IN_MB",
    unset: "no job",
    description: "the job's `MaxPayloadInMB` (SageMaker sets it): raises the body limit and the multipart file limit to that many MiB; `0` (chunked bodies of any size) raises them to `BYOC_MAX_IN_FLIGHT_BYTES`",
  }),
  strategy: setting({
    kind: strategy,
    env: "SAGEMAKER_BATCH_STRATEGY",
    unset: "no job",
    description: "the job's `BatchStrategy` (SageMaker sets it; logged at start-up)",
  }),
  maxConcurrentTransforms: setting({
    kind: integer({ min: 0, max: 1_000_000 }),
    env: "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",
    unset: "no job",
    description: "the job's `MaxConcurrentTransforms` (SageMaker sets it; logged at start-up)",
  }),
  executionParameters: {
    maxConcurrentTransforms: suggestedConcurrency,
    batchStrategy: setting({
      kind: strategy,
      env: "BYOC_EXECUTION_BATCH_STRATEGY",
      unset: "`MULTI_RECORD`; `SINGLE_RECORD` for a model whose inputs take exactly one row",
      description: "`BatchStrategy` that `GET /execution-parameters` suggests",
    }),
    maxPayloadInMb: suggestedPayload,
  },
};

/** SageMaker refuses a job whose concurrency times payload passes 100 MB: so must a suggestion. */
export const executionParametersRule: SettingsRule = ({ read, given, isSet }) => {
  if (!isSet(suggestedConcurrency) || !isSet(suggestedPayload)) return undefined;
  const product = (read(suggestedConcurrency) as number) * (read(suggestedPayload) as number);
  return product > maxPayloadInMbLimit
    ? `${given(suggestedConcurrency)} × ${given(suggestedPayload)} is ${product}; SageMaker accepts at most ${maxPayloadInMbLimit} MB in flight`
    : undefined;
};

/** The parts of a server configuration the job's payload limit raises. */
interface PayloadLimits {
  readonly maxPayloadBytes: number;
  readonly maxInFlightBytes: number;
  readonly multipart: { readonly maxFileBytes: number };
  readonly batch: { readonly maxPayloadInMb: number | undefined };
}

/**
 * The configuration with its body limit and multipart file limit raised to the job's
 * `SAGEMAKER_MAX_PAYLOAD_IN_MB` when that is larger: SageMaker sends mini-batches up to that
 * size, and a container that refuses them fails the job with 413s (docs/batch.md). `0` means
 * chunked bodies of any size; they still have to fit in memory, so the in-flight byte budget
 * bounds them.
 *
 * @example
 * ```ts
 * withJobPayloadLimit(config).maxPayloadBytes; // 20 MiB with SAGEMAKER_MAX_PAYLOAD_IN_MB=20
 * ```
 */
export function withJobPayloadLimit<Config extends PayloadLimits>(config: Config): Config {
  const payloadInMb = config.batch.maxPayloadInMb;
  if (payloadInMb === undefined) return config;
  const jobBytes = payloadInMb === 0 ? config.maxInFlightBytes : payloadInMb * bytesPerPayloadMb;
  if (jobBytes <= config.maxPayloadBytes && jobBytes <= config.multipart.maxFileBytes) return config;
  return {
    ...config,
    maxPayloadBytes: Math.max(config.maxPayloadBytes, jobBytes),
    multipart: { ...config.multipart, maxFileBytes: Math.max(config.multipart.maxFileBytes, jobBytes) },
  };
}
