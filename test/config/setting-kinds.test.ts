import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadBuildOptions, loadPushOptions } from "../../src/build/options.js";
import { asyncSettings } from "../../src/config/async-config.js";
import { buildSettings } from "../../src/config/build-settings.js";
import { pushSettings } from "../../src/config/push-settings.js";
import { resolveSettings, type Env, type FlagValues } from "../../src/config/resolve.js";
import { loadConfig, serverSettings } from "../../src/config/server-config.js";
import type { CommandName, SettingsGroup } from "../../src/config/setting.js";
import { ConfigurationError } from "../../src/errors.js";

/** One bad value of one kind, from one source, and the message that must name it. */
interface Refusal {
  readonly source: "environment" | "flag" | "code";
  readonly group: SettingsGroup;
  readonly env?: Env;
  readonly flags?: { readonly command: CommandName; readonly values: FlagValues };
  readonly overrides?: object;
  readonly message: string;
}

const kinds: Record<string, readonly Refusal[]> = {
  "integer within bounds": [
    { source: "environment", group: serverSettings, env: { SAGEMAKER_BIND_TO_PORT: "70000" }, message: 'SAGEMAKER_BIND_TO_PORT="70000" must be a whole number from 0 to 65535' },
    { source: "flag", group: serverSettings, flags: { command: "serve", values: { port: "70000" } }, message: '--port "70000" must be a whole number from 0 to 65535' },
    { source: "code", group: serverSettings, overrides: { port: 70000 }, message: "port=70000 must be a whole number from 0 to 65535" },
    { source: "environment", group: serverSettings, env: { SAGEMAKER_MODEL_SERVER_WORKERS: "0x10" }, message: 'SAGEMAKER_MODEL_SERVER_WORKERS="0x10" must be a whole number from 1 to 1024' },
    { source: "code", group: serverSettings, overrides: { workers: 1.5 }, message: "workers=1.5 must be a whole number from 1 to 1024" },
  ],
  "integer with a unit": [
    { source: "environment", group: serverSettings, env: { BYOC_MAX_PAYLOAD_BYTES: "0" }, message: 'BYOC_MAX_PAYLOAD_BYTES="0" must be a whole number, at least 1 (bytes)' },
    { source: "flag", group: serverSettings, flags: { command: "serve", values: { "max-payload-bytes": "6MB" } }, message: '--max-payload-bytes "6MB" must be a whole number, at least 1 (bytes)' },
    { source: "code", group: asyncSettings, overrides: { defaultRequestTtlSeconds: 30 }, message: "defaultRequestTtlSeconds=30 must be a whole number from 60 to 21600 (seconds)" },
  ],
  "duration in seconds (milliseconds in code)": [
    { source: "environment", group: serverSettings, env: { SAGEMAKER_MODEL_SERVER_TIMEOUT: "-5" }, message: 'SAGEMAKER_MODEL_SERVER_TIMEOUT="-5" must be a positive number of seconds up to 2147483' },
    { source: "environment", group: serverSettings, env: { BYOC_WORKER_RECYCLE_SECONDS: "3000000" }, message: 'BYOC_WORKER_RECYCLE_SECONDS="3000000" must be a positive number of seconds up to 2147483' },
    { source: "flag", group: serverSettings, flags: { command: "serve", values: { timeout: "soon" } }, message: '--timeout "soon" must be a positive number of seconds up to 2147483' },
    { source: "code", group: serverSettings, overrides: { timeoutMs: -5 }, message: "timeoutMs=-5 must be a positive whole number of milliseconds up to 2147483000" },
  ],
  boolean: [
    { source: "environment", group: serverSettings, env: { BYOC_ONNX_WARM_UP: "maybe" }, message: 'BYOC_ONNX_WARM_UP="maybe" must be true or false (or 1/0, yes/no, on/off)' },
    { source: "flag", group: pushSettings, flags: { command: "push", values: { "tls-verify": "maybe" } }, message: '--tls-verify "maybe" must be true or false (or 1/0, yes/no, on/off)' },
    { source: "code", group: serverSettings, overrides: { onnx: { warmUp: "yes" } }, message: 'onnx.warmUp="yes" must be true or false' },
  ],
  "one of fixed values": [
    { source: "environment", group: serverSettings, env: { BYOC_ONNX_EXECUTION_MODE: "fast" }, message: 'BYOC_ONNX_EXECUTION_MODE="fast" must be one of sequential, parallel' },
    { source: "flag", group: buildSettings, flags: { command: "build", values: { target: "tpu" } }, message: '--target "tpu" must be one of cpu, gpu' },
    { source: "code", group: serverSettings, overrides: { onnx: { graphOptimizationLevel: "max" } }, message: 'onnx.graphOptimizationLevel="max" must be one of disabled, basic, extended, all' },
  ],
  "log level, with Python's numbers": [
    { source: "environment", group: serverSettings, env: { SAGEMAKER_CONTAINER_LOG_LEVEL: "25" }, message: `SAGEMAKER_CONTAINER_LOG_LEVEL="25" must be one of trace, debug, info, warn, error, fatal, silent, or Python's 10, 20, 30, 40, 50` },
    { source: "flag", group: asyncSettings, flags: { command: "gateway", values: { "log-level": "loud" } }, message: `--log-level "loud" must be one of trace, debug, info, warn, error, fatal, silent, or Python's` },
    { source: "code", group: serverSettings, overrides: { logLevel: "20" }, message: `logLevel="20" must be one of trace, debug, info, warn, error, fatal, silent, or Python's` },
  ],
  "list of choices": [
    { source: "environment", group: serverSettings, env: { BYOC_ONNX_PROVIDERS: "cuda,rocm" }, message: 'BYOC_ONNX_PROVIDERS="cuda,rocm" must be a comma-separated list of cuda, tensorrt, webgpu, cpu' },
    { source: "flag", group: serverSettings, flags: { command: "serve", values: { providers: " , " } }, message: '--providers " , " must be a comma-separated list of cuda, tensorrt, webgpu, cpu' },
    { source: "code", group: serverSettings, overrides: { onnx: { executionProviders: [] } }, message: "onnx.executionProviders=[] must be a non-empty array, each one of cuda, tensorrt, webgpu, cpu" },
    { source: "code", group: asyncSettings, overrides: { includeInferenceResponseIn: ["ALWAYS"] }, message: 'includeInferenceResponseIn=["ALWAYS"] must be an array, each one of SUCCESS_NOTIFICATION_TOPIC, ERROR_NOTIFICATION_TOPIC' },
  ],
  "repeatable list of patterns": [
    { source: "flag", group: buildSettings, flags: { command: "build", values: { tag: ["app:1", "app:"] } }, message: '--tag "app:" must be an image reference such as node:24-bookworm-slim' },
    { source: "flag", group: pushSettings, flags: { command: "push", values: { tag: ["-bad"] } }, message: '--tag "-bad" must be an image tag: letters, digits, _ . - (up to 128, not starting with . or -)' },
  ],
  "free text": [
    { source: "code", group: serverSettings, overrides: { host: 42 }, message: "host=42 must be an interface address" },
    { source: "code", group: serverSettings, overrides: { modelDir: "  " }, message: 'modelDir="  " must be a directory' },
  ],
  "media type": [
    { source: "environment", group: serverSettings, env: { SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "json" }, message: 'SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="json" must be a media type such as application/json' },
    { source: "code", group: serverSettings, overrides: { defaultContentType: "text/csv; charset=utf-8" }, message: 'defaultContentType="text/csv; charset=utf-8" must be a media type' },
  ],
  "http(s) URL": [
    { source: "environment", group: asyncSettings, env: { AWS_ENDPOINT_URL: "localhost:4566" }, message: 'AWS_ENDPOINT_URL="localhost:4566" must be an http:// or https:// URL' },
    { source: "flag", group: asyncSettings, flags: { command: "gateway", values: { "invocations-url": "ftp://model" } }, message: '--invocations-url "ftp://model" must be an http:// or https:// URL' },
    { source: "code", group: asyncSettings, overrides: { runtimeEndpoint: "http://" }, message: 'runtimeEndpoint="http://" must be an http:// or https:// URL' },
  ],
  "AWS region": [
    { source: "environment", group: asyncSettings, env: { AWS_REGION: "us-east1" }, message: 'AWS_REGION="us-east1" must be an AWS region such as us-east-1' },
    { source: "flag", group: asyncSettings, flags: { command: "invoke", values: { region: "Mars" } }, message: '--region "Mars" must be an AWS region such as us-east-1' },
    { source: "code", group: asyncSettings, overrides: { region: "" }, message: 'region="" must be an AWS region' },
  ],
  "S3 URI": [
    { source: "environment", group: asyncSettings, env: { BYOC_ASYNC_S3_OUTPUT_PATH: "bucket/out" }, message: 'BYOC_ASYNC_S3_OUTPUT_PATH="bucket/out" must be an S3 URI such as s3://bucket/prefix' },
    { source: "flag", group: asyncSettings, flags: { command: "gateway", values: { "s3-failure-path": "https://bucket/fail" } }, message: '--s3-failure-path "https://bucket/fail" must be an S3 URI' },
    { source: "code", group: asyncSettings, overrides: { s3OutputPath: "s3://" }, message: 's3OutputPath="s3://" must be an S3 URI' },
    { source: "flag", group: pushSettings, flags: { command: "push", values: { "model-data": "s3://Bucket_Name/model.tar.gz" } }, message: '--model-data "s3://Bucket_Name/model.tar.gz" must be an s3:// URL' },
  ],
  "SageMaker name": [
    { source: "environment", group: asyncSettings, env: { BYOC_ASYNC_ENDPOINT_NAME: "bad_name" }, message: 'BYOC_ASYNC_ENDPOINT_NAME="bad_name" must be 1-63 letters, digits and hyphens' },
    { source: "flag", group: asyncSettings, flags: { command: "invoke", values: { "endpoint-name": "-x" } }, message: '--endpoint-name "-x" must be 1-63 letters, digits and hyphens' },
    { source: "code", group: asyncSettings, overrides: { variantName: "v".repeat(64) }, message: `variantName="${"v".repeat(64)}" must be 1-63 letters` },
  ],
  "ARN and other patterns": [
    { source: "environment", group: asyncSettings, env: { BYOC_ASYNC_SUCCESS_TOPIC: "my-topic" }, message: 'BYOC_ASYNC_SUCCESS_TOPIC="my-topic" must be an SNS topic ARN such as arn:aws:sns:us-east-1:000000000000:name' },
    { source: "code", group: asyncSettings, overrides: { accountId: "123" }, message: 'accountId="123" must be 12 digits' },
    { source: "flag", group: pushSettings, flags: { command: "push", values: { "role-arn": "role/x" } }, message: '--role-arn "role/x" must be an IAM role ARN' },
    { source: "flag", group: pushSettings, flags: { command: "push", values: { registry: "bad host/path" } }, message: '--registry "bad host/path" must be a registry host' },
    { source: "flag", group: buildSettings, flags: { command: "build", values: { "base-image": "bad image" } }, message: '--base-image "bad image" must be an image reference' },
  ],
};

function refusedWith(run: () => unknown, ...messages: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigurationError, `a ConfigurationError, not ${String(error)}`);
    for (const message of messages) assert.ok(error.message.includes(message), `${JSON.stringify(error.message)} names ${JSON.stringify(message)}`);
    return true;
  });
}

describe("every kind of setting refuses a bad value from each source, naming the setting as written and what it accepts", () => {
  for (const [kind, refusals] of Object.entries(kinds)) {
    test(kind, () => {
      for (const { group, env, flags, overrides, message } of refusals) refusedWith(() => resolveSettings(group, { env, flags, overrides }), message);
    });
  }

  test("the table covers the environment, flags and code", () => {
    const sources = new Set(Object.values(kinds).flatMap((refusals) => refusals.map(({ source }) => source)));
    assert.deepEqual([...sources].sort(), ["code", "environment", "flag"]);
  });
});

test("the loaders refuse the same values: loadConfig, loadBuildOptions, loadPushOptions", () => {
  refusedWith(() => loadConfig({ SAGEMAKER_BIND_TO_PORT: "70000" }), 'SAGEMAKER_BIND_TO_PORT="70000" must be a whole number from 0 to 65535');
  refusedWith(() => loadBuildOptions({ tag: ["ok:1", "app:"], target: "tpu" }, "/w"), '--tag "app:" must be', '--target "tpu" must be one of cpu, gpu');
  refusedWith(() => loadPushOptions({ "tls-verify": "maybe" }, { AWS_REGION: "us-east1" }, "/w"), '--tls-verify "maybe" must be true or false', 'AWS_REGION="us-east1" must be an AWS region');
});

test("a value given in code that is not even of the right type is named with its option", () => {
  refusedWith(() => loadConfig({}, { onnx: { deviceId: "1" } } as never), 'onnx.deviceId="1" must be a whole number from 0 to 1024');
  refusedWith(() => loadConfig({}, { onnx: 2 } as never), "onnx=2 must be an object with executionProviders, deviceId");
});
