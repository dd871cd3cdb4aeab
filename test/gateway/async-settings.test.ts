import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { asyncModeEnabled, defaultAsyncConfig, loadAsyncConfig, loadAwsEndpoints, requireOutputPath } from "../../src/config/async-config.js";
import { createS3Client } from "../../src/gateway/async/s3-transfer.js";
import { createSnsClient } from "../../src/gateway/async/notifications.js";
import { ConfigurationError } from "../../src/errors.js";

test("async settings come from BYOC_ASYNC_* variables with documented defaults; overrides (flags) win", () => {
  const defaults = loadAsyncConfig({});
  assert.deepEqual({ ...defaults }, { ...defaultAsyncConfig });
  const config = loadAsyncConfig(
    {
      BYOC_ASYNC_ENDPOINT_NAME: "my-endpoint",
      BYOC_ASYNC_S3_OUTPUT_PATH: "s3://bucket/out",
      BYOC_ASYNC_S3_FAILURE_PATH: "s3://bucket/fail/",
      BYOC_ASYNC_SUCCESS_TOPIC: "arn:aws:sns:eu-west-1:123456789012:ok",
      BYOC_ASYNC_ERROR_TOPIC: "arn:aws:sns:eu-west-1:123456789012:ko",
      BYOC_ASYNC_INCLUDE_INFERENCE_RESPONSE_IN: "success_notification_topic, ERROR_NOTIFICATION_TOPIC",
      BYOC_ASYNC_MAX_CONCURRENT_INVOCATIONS: "3",
      BYOC_ASYNC_MAX_QUEUED_REQUESTS: "500",
      BYOC_ASYNC_REQUEST_TTL_SECONDS: "120",
      BYOC_ASYNC_INVOCATION_TIMEOUT_SECONDS: "30",
      BYOC_ASYNC_RETRY_BASE_SECONDS: "0.1",
      BYOC_ASYNC_RETRY_MAX_SECONDS: "2",
      BYOC_ASYNC_INVOCATIONS_URL: "http://model:8080/invocations",
      SAGEMAKER_REGION: "eu-west-1",
      SAGEMAKER_CONTAINER_LOG_LEVEL: "30",
    },
    { maxConcurrentInvocations: 5, queueDir: undefined },
  );
  assert.equal(config.endpointName, "my-endpoint");
  assert.equal(config.region, "eu-west-1");
  assert.deepEqual(config.includeInferenceResponseIn, ["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]);
  assert.equal(config.maxConcurrentInvocations, 5, "the override wins");
  assert.equal(config.queueDir, join(tmpdir(), "sagemaker-byoc-async", "my-endpoint"), "an undefined override keeps the default: one directory per endpoint");
  assert.equal(defaultAsyncConfig.queueDir, join(tmpdir(), "sagemaker-byoc-async", "local-endpoint"));
  assert.equal(loadAsyncConfig({ BYOC_ASYNC_QUEUE_DIR: "/data/q" }, { endpointName: "x" }).queueDir, "/data/q");
  assert.equal(loadAsyncConfig({ BYOC_ASYNC_QUEUE_DIR: "/data/q" }, { queueDir: "/flag/q" }).queueDir, "/flag/q");
  assert.equal(config.defaultRequestTtlSeconds, 120);
  assert.equal(config.maxQueuedRequests, 500);
  assert.equal(defaults.maxQueuedRequests, 10_000);
  assert.equal(config.retryBaseMs, 100);
  assert.equal(config.logLevel, "warn");
  assert.equal(requireOutputPath(config), "s3://bucket/out");
  assert.throws(() => requireOutputPath(defaults), /set BYOC_ASYNC_S3_OUTPUT_PATH/);
});

test("region and endpoint overrides follow the AWS variables, with path-style S3 for custom endpoints", () => {
  assert.deepEqual(loadAwsEndpoints({ AWS_REGION: "ap-south-1", AWS_ENDPOINT_URL: "http://localhost:4566" }), {
    region: "ap-south-1",
    s3Endpoint: "http://localhost:4566",
    s3ForcePathStyle: true,
    snsEndpoint: "http://localhost:4566",
    runtimeEndpoint: undefined,
  });
  const specific = loadAwsEndpoints({
    AWS_DEFAULT_REGION: "us-west-2",
    AWS_ENDPOINT_URL_S3: "http://minio:9000",
    AWS_ENDPOINT_URL_SNS: "http://sns:9911",
    BYOC_ASYNC_S3_FORCE_PATH_STYLE: "false",
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: "http://localhost:8081",
  });
  assert.deepEqual(specific, { region: "us-west-2", s3Endpoint: "http://minio:9000", s3ForcePathStyle: false, snsEndpoint: "http://sns:9911", runtimeEndpoint: "http://localhost:8081" });
  assert.deepEqual(loadAwsEndpoints({}), { region: "us-east-1", s3Endpoint: undefined, s3ForcePathStyle: false, snsEndpoint: undefined, runtimeEndpoint: undefined });
  assert.equal(asyncModeEnabled({ BYOC_ASYNC_ENABLED: "true" }), true);
  assert.equal(asyncModeEnabled({}), false);
});

test("the AWS clients get the configured region, endpoint and path style", async () => {
  const s3 = createS3Client(loadAwsEndpoints({ AWS_REGION: "eu-central-1", BYOC_ASYNC_S3_ENDPOINT: "http://127.0.0.1:4566" }));
  const sns = createSnsClient(loadAwsEndpoints({ AWS_REGION: "eu-central-1", BYOC_ASYNC_SNS_ENDPOINT: "http://127.0.0.1:4567" }));
  try {
    assert.equal(await s3.config.region(), "eu-central-1");
    assert.equal(s3.config.forcePathStyle, true);
    assert.equal((await s3.config.endpoint?.())?.port, 4566);
    assert.equal((await sns.config.endpoint?.())?.port, 4567);
  } finally {
    s3.destroy();
    sns.destroy();
  }
});

test("invalid async settings fail at start-up naming the variable and what it accepts", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ BYOC_ASYNC_ENDPOINT_NAME: "bad_name" }, /BYOC_ASYNC_ENDPOINT_NAME="bad_name" must be 1-63 letters, digits and hyphens/],
    [{ BYOC_ASYNC_ACCOUNT_ID: "123" }, /BYOC_ASYNC_ACCOUNT_ID="123" must be 12 digits/],
    [{ BYOC_ASYNC_S3_OUTPUT_PATH: "bucket/out" }, /BYOC_ASYNC_S3_OUTPUT_PATH="bucket\/out" must be an S3 URI/],
    [{ BYOC_ASYNC_S3_FAILURE_PATH: "https://x/y" }, /BYOC_ASYNC_S3_FAILURE_PATH/],
    [{ BYOC_ASYNC_SUCCESS_TOPIC: "my-topic" }, /BYOC_ASYNC_SUCCESS_TOPIC="my-topic" must be an SNS topic ARN/],
    [{ BYOC_ASYNC_INCLUDE_INFERENCE_RESPONSE_IN: "ALWAYS" }, /BYOC_ASYNC_INCLUDE_INFERENCE_RESPONSE_IN="ALWAYS" must be a comma-separated list of SUCCESS_NOTIFICATION_TOPIC, ERROR_NOTIFICATION_TOPIC/],
    [{ BYOC_ASYNC_REQUEST_TTL_SECONDS: "30" }, /BYOC_ASYNC_REQUEST_TTL_SECONDS="30" must be a whole number from 60 to 21600/],
    [{ BYOC_ASYNC_INVOCATION_TIMEOUT_SECONDS: "3601" }, /from 1 to 3600/],
    [{ BYOC_ASYNC_S3_ENDPOINT: "localhost:4566" }, /BYOC_ASYNC_S3_ENDPOINT="localhost:4566" must be an http:\/\/ or https:\/\/ URL/],
    [{ BYOC_ASYNC_RETRY_BASE_SECONDS: "10", BYOC_ASYNC_RETRY_MAX_SECONDS: "1" }, /BYOC_ASYNC_RETRY_MAX_SECONDS \(1\) must not be below/],
    [{ BYOC_ASYNC_ENABLED: "maybe" }, /BYOC_ASYNC_ENABLED="maybe" must be true or false/],
    [{ BYOC_ASYNC_MAX_QUEUED_REQUESTS: "0" }, /BYOC_ASYNC_MAX_QUEUED_REQUESTS="0" must be a whole number from 1 to 10000000/],
    [{ BYOC_ASYNC_S3_OUTPUT_PATH: "s3://bucket/out/../other" }, /BYOC_ASYNC_S3_OUTPUT_PATH="s3:\/\/bucket\/out\/\.\.\/other" must be an S3 URI/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => (env["BYOC_ASYNC_ENABLED"] ? asyncModeEnabled(env) : loadAsyncConfig(env)), (error: unknown) => error instanceof ConfigurationError && message.test(error.message));
  }
  assert.throws(() => loadAsyncConfig({}, { invocationsUrl: "ftp://model" }), /invocationsUrl="ftp:\/\/model" must be an http/);
});
