import { integer, list, matching, oneOf, region, sagemakerName, seconds, text } from "./kinds.js";
import { resolveSettings, type Env } from "./resolve.js";
import { defineSettings, flag, setting, type SettingsOverrides, type SettingsValues } from "./setting.js";
import { logLevelSetting, shutdownTimeoutSetting } from "./server-config.js";

/**
 * How the containers of a multi-container endpoint run (CreateModel's `InferenceExecutionConfig.Mode`,
 * docs/pipelines.md): `Serial` chains them, `Direct` runs the one a request names.
 *
 * @example
 * ```ts
 * const mode: InferenceExecutionMode = "Direct";
 * ```
 */
export type InferenceExecutionMode = "Serial" | "Direct";

/** A container hostname as CreateModel's `ContainerHostname` allows it (docs/pipelines.md). */
export const containerHostnamePattern = /^[a-zA-Z0-9](?:-*[a-zA-Z0-9])*$/;

/** CreateModel takes 2 to 15 containers for a multi-container model (docs/pipelines.md). */
export const containerLimits = { min: 2, max: 15 } as const;

const containerSpec = text("[<hostname>=]<url or model directory>", { placeholder: "<[name=]url|dir>" });
const containerEnvironment = matching(/^[a-zA-Z0-9](?:-*[a-zA-Z0-9])*:[A-Za-z_][A-Za-z0-9_]*=.*$/, "<hostname>:<VARIABLE>=<value>", {
  placeholder: "<name:VAR=value>",
});

/**
 * Every setting of the `pipeline` command (the local multi-container endpoint), declared once;
 * docs/pipelines.md's table is generated from it.
 */
export const pipelineSettings = defineSettings({
  containers: setting({
    kind: list(containerSpec, { expected: "[<hostname>=]<url or model directory>, several separated by commas", placeholder: "<[name=]url|dir>" }),
    env: "BYOC_PIPELINE_CONTAINERS",
    flag: flag("--container", ["pipeline"], { repeatable: true }),
    unset: "none; 2 to 15 required",
    description: "the containers in order: a running server's URL, or a model directory to `serve` on a port of its own",
  }),
  containerEnvironment: setting({
    kind: list(containerEnvironment, { expected: "<hostname>:<VARIABLE>=<value>, several separated by commas", placeholder: "<name:VAR=value>" }),
    env: "BYOC_PIPELINE_CONTAINER_ENV",
    flag: flag("--container-env", ["pipeline"], { repeatable: true }),
    unset: "none",
    description: "a variable of one started container, as CreateModel's `Environment` sets it (`SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`)",
  }),
  mode: setting({
    kind: oneOf<InferenceExecutionMode>(["Serial", "Direct"]),
    env: "BYOC_PIPELINE_MODE",
    flag: flag("--mode", ["pipeline"]),
    default: "Serial",
    description: "`InferenceExecutionConfig.Mode`: `Serial` chains the containers, `Direct` runs the one `TargetContainerHostname` names",
  }),
  endpointName: setting({
    kind: sagemakerName(),
    env: "BYOC_PIPELINE_ENDPOINT_NAME",
    flag: flag("--endpoint-name", ["pipeline"]),
    default: "local-endpoint",
    description: "the endpoint name clients call; other names get \"not found\"",
  }),
  port: setting({
    kind: integer({ min: 0, max: 65535 }),
    env: "BYOC_PIPELINE_PORT",
    flag: flag("--port", ["pipeline"]),
    default: 8081,
    description: "gateway port (the SageMaker Runtime API)",
  }),
  host: setting({
    kind: text("an interface address", { placeholder: "<addr>" }),
    env: "BYOC_PIPELINE_HOST",
    flag: flag("--host", ["pipeline"]),
    default: "0.0.0.0",
    description: "gateway interface; started containers always listen on 127.0.0.1",
  }),
  startupTimeoutMs: setting({
    kind: seconds(),
    env: "BYOC_PIPELINE_STARTUP_TIMEOUT_SECONDS",
    flag: flag("--startup-timeout", ["pipeline"]),
    default: 240_000,
    description: "how long a started container may take to answer `/ping` 200 (SageMaker's default is 4 minutes)",
  }),
  region: setting({
    kind: region(),
    env: ["BYOC_PIPELINE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"],
    default: "us-east-1",
    description: "region in `LogStreamArn` of errors",
  }),
  accountId: setting({
    kind: matching(/^[0-9]{12}$/, "12 digits", { placeholder: "<id>" }),
    env: "BYOC_PIPELINE_ACCOUNT_ID",
    default: "000000000000",
    description: "account id in \"not found\" messages and `LogStreamArn`",
  }),
  variantName: setting({
    kind: sagemakerName(),
    env: "BYOC_PIPELINE_VARIANT_NAME",
    default: "AllTraffic",
    description: "`X-Amzn-Invoked-Production-Variant` of answers",
  }),
  logLevel: logLevelSetting,
  shutdownTimeoutMs: shutdownTimeoutSetting,
});

/**
 * The settings of a local multi-container endpoint, as {@link loadPipelineConfig} reads them.
 *
 * @example
 * ```ts
 * const config: PipelineConfig = loadPipelineConfig(process.env, { containers: ["pre=http://127.0.0.1:9001", "model=./model"] });
 * ```
 */
export type PipelineConfig = SettingsValues<typeof pipelineSettings.tree>;

/**
 * Settings a caller may override in code; `undefined` leaves one to the environment.
 *
 * @example
 * ```ts
 * const overrides: PipelineConfigOverrides = { mode: "Direct", port: 0 };
 * ```
 */
export type PipelineConfigOverrides = SettingsOverrides<typeof pipelineSettings.tree>;

/**
 * Reads the environment, applies `overrides` and validates, throwing one ConfigurationError that
 * names each invalid setting. The containers themselves are checked when the endpoint starts
 * (their number, names and targets: see `parsePipelineContainers`).
 *
 * @example
 * ```ts
 * const config = loadPipelineConfig(process.env, { port: 0 });
 * ```
 */
export function loadPipelineConfig(env: Env = process.env, overrides: PipelineConfigOverrides = {}): PipelineConfig {
  return resolveSettings(pipelineSettings, { env, overrides });
}
