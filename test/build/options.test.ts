import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadBuildOptions, loadPushOptions } from "../../src/build/options.js";
import { defaultBaseImages } from "../../src/config/build-settings.js";
import { ConfigurationError } from "../../src/errors.js";

test("build defaults: the working directory, a context folder inside it, cpu on node:24-bookworm-slim, auto engine", () => {
  const options = loadBuildOptions({}, "/work/app");
  assert.equal(options.projectDir, "/work/app");
  assert.equal(options.outputDir, join("/work/app", ".sagemaker-byoc", "build"));
  assert.equal(options.target, "cpu");
  assert.equal(options.baseImage, "node:24-bookworm-slim");
  assert.equal(options.engine, "auto");
  assert.equal(options.build, true);
  assert.equal(options.multiModel, false);
  assert.equal(options.tags, undefined);
  assert.equal(options.handlersPath, undefined);
  assert.equal(options.modelPath, undefined);
});

test("build flags: paths from the working directory, gpu's own base, --no-build, tags", () => {
  const options = loadBuildOptions(
    { project: "app", output: "out", handlers: "app/src/inference.ts", model: "model.tar.gz", target: "GPU", tag: ["a:1", "b:2"], engine: "buildah", "no-build": true, "multi-model": true },
    "/work",
  );
  assert.equal(options.projectDir, "/work/app");
  assert.equal(options.outputDir, "/work/out");
  assert.equal(options.handlersPath, "/work/app/src/inference.ts");
  assert.equal(options.modelPath, "/work/model.tar.gz");
  assert.equal(options.target, "gpu");
  assert.equal(options.baseImage, defaultBaseImages.gpu);
  assert.deepEqual(options.tags, ["a:1", "b:2"]);
  assert.equal(options.engine, "buildah");
  assert.equal(options.build, false);
  assert.equal(options.multiModel, true);
  assert.equal(loadBuildOptions({ "base-image": "localhost/base:1" }, "/w").baseImage, "localhost/base:1");
});

test("build refuses an unknown target or engine and a malformed image name, naming the flag", () => {
  assert.throws(() => loadBuildOptions({ target: "tpu" }, "/w"), (error: Error) => error instanceof ConfigurationError && /--target "tpu" must be one of cpu, gpu/.test(error.message));
  assert.throws(() => loadBuildOptions({ engine: "podman" }, "/w"), /--engine "podman" must be one of auto, docker, buildah/);
  assert.throws(() => loadBuildOptions({ "base-image": "bad image" }, "/w"), /--base-image "bad image" must be an image reference/);
  assert.throws(() => loadBuildOptions({ tag: ["app:"] }, "/w"), /--tag "app:"/);
});

test("push reads the region and credentials from the environment; flags win", () => {
  const env = { AWS_DEFAULT_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "secret", AWS_SESSION_TOKEN: "token" };
  const options = loadPushOptions({}, env, "/work/app");
  assert.equal(options.region, "eu-west-1");
  assert.deepEqual(options.awsCredentials, { accessKeyId: "AKIA", secretAccessKey: "secret", sessionToken: "token" });
  assert.equal(options.tlsVerify, true);
  assert.equal(options.registry, undefined);
  assert.equal(loadPushOptions({ region: "us-east-2" }, { ...env, AWS_REGION: "ap-south-1" }, "/w").region, "us-east-2");
  assert.equal(loadPushOptions({}, { AWS_REGION: "ap-south-1", AWS_DEFAULT_REGION: "eu-west-1" }, "/w").region, "ap-south-1");
  assert.equal(loadPushOptions({}, {}, "/w").awsCredentials, undefined, "absent: the SDK's own chain applies");
});

test("push flags for any OCI registry: host, plain HTTP, credentials from the environment", () => {
  const options = loadPushOptions(
    { registry: "http://127.0.0.1:5000/", "tls-verify": "false", tag: ["dev"], repository: "team/app", image: "app:dev" },
    { BYOC_REGISTRY_USERNAME: "ci", BYOC_REGISTRY_PASSWORD: "pw" },
    "/w",
  );
  assert.equal(options.registry, "127.0.0.1:5000");
  assert.equal(options.tlsVerify, false);
  assert.deepEqual(options.registryCredentials, { username: "ci", password: "pw" });
  assert.deepEqual(options.tags, ["dev"]);
  assert.equal(options.repository, "team/app");
  assert.equal(options.image, "app:dev");
});

test("push refuses malformed flags and half-set credentials, naming the flag or variable", () => {
  const cases: [Parameters<typeof loadPushOptions>[0], Record<string, string>, RegExp][] = [
    [{ "tls-verify": "maybe" }, {}, /--tls-verify "maybe" must be true or false \(or 1\/0, yes\/no, on\/off\)/],
    [{ "ecr-endpoint": "not a url" }, {}, /--ecr-endpoint "not a url" must be an http:\/\/ or https:\/\/ URL/],
    [{ "ecr-endpoint": "ftp://ecr" }, {}, /must be an http:\/\/ or https:\/\/ URL/],
    [{ registry: "bad host/path" }, {}, /--registry "bad host\/path" must be a registry host/],
    [{ repository: "Team/App" }, {}, /--repository "Team\/App" must be a repository name/],
    [{ tag: ["-bad"] }, {}, /--tag "-bad" must be an image tag/],
    [{ "role-arn": "role/x" }, {}, /--role-arn "role\/x" must be an IAM role ARN such as arn:aws:iam::123456789012:role\/sagemaker-execution/],
    [{ "model-data": "https://bucket/model.tar.gz" }, {}, /--model-data .* must be an s3:\/\/ URL/],
    [{ "instance-type": "m5.large" }, {}, /--instance-type "m5.large" must be a SageMaker instance type/],
    // Printed into shell commands: anything beyond the ARN's and S3's own characters is refused.
    [{ "role-arn": "arn:aws:iam::123456789012:role/x; rm -rf ~" }, {}, /--role-arn .* must be an IAM role ARN/],
    [{ "role-arn": "arn:aws:iam::1234:role/short-account" }, {}, /--role-arn .* must be an IAM role ARN/],
    [{ "role-arn": "arn:aws:iam::123456789012:user/not-a-role" }, {}, /--role-arn .* must be an IAM role ARN/],
    [{ "role-arn": `arn:aws:iam::123456789012:role/${"n".repeat(65)}` }, {}, /--role-arn .* must be an IAM role ARN/],
    [{ "model-data": "s3://bucket/$(id)/model.tar.gz" }, {}, /--model-data .* must be an s3:\/\/ URL .* a key of letters, digits and ! - _ \. \* ' \( \) \//],
    [{ "model-data": "s3://bucket/two words.tar.gz" }, {}, /--model-data/],
    [{ "model-data": "s3://Bucket_Name/model.tar.gz" }, {}, /--model-data .* a bucket name \(lowercase letters, digits, \. and -\)/],
    [{ "model-data": "s3://my..bucket/model.tar.gz" }, {}, /--model-data/],
    [{ "model-data": "s3://" }, {}, /--model-data/],
    [{ "model-data": `s3://bucket/${"k".repeat(1020)}` }, {}, /--model-data/],
    [{ "instance-type": "ml.m5.large && curl x" }, {}, /--instance-type .* must be a SageMaker instance type/],
    [{ name: "has_underscore" }, {}, /--name "has_underscore" must be 1-63 letters, digits and hyphens/],
    [{ engine: "podman" }, {}, /--engine "podman"/],
    [{}, { AWS_ACCESS_KEY_ID: "AKIA" }, /AWS_SECRET_ACCESS_KEY is not set/],
    [{}, { AWS_SECRET_ACCESS_KEY: "secret" }, /AWS_ACCESS_KEY_ID is not set/],
    [{}, { BYOC_REGISTRY_USERNAME: "ci" }, /BYOC_REGISTRY_PASSWORD is not set/],
    [{}, { BYOC_REGISTRY_PASSWORD: "pw" }, /BYOC_REGISTRY_USERNAME is not set/],
  ];
  for (const [flags, env, message] of cases) {
    assert.throws(() => loadPushOptions(flags, env, "/w"), (error: Error) => error instanceof ConfigurationError && message.test(error.message), JSON.stringify(flags));
  }
});

test("push deployment settings pass through", () => {
  const { deploy } = loadPushOptions(
    { "role-arn": "arn:aws:iam::123456789012:role/sm", "model-data": "s3://models/iris.tar.gz", "instance-type": "ml.c7i.large", name: "iris-prod" },
    {},
    "/w",
  );
  assert.deepEqual(deploy, { roleArn: "arn:aws:iam::123456789012:role/sm", modelDataUrl: "s3://models/iris.tar.gz", instanceType: "ml.c7i.large", name: "iris-prod" });
  const accepted = loadPushOptions(
    { "role-arn": "arn:aws-us-gov:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000", "model-data": "s3://my.models-2024/team/it's(v2)*/models/", "instance-type": "ml.g5.12xlarge" },
    {},
    "/w",
  ).deploy;
  assert.equal(accepted.roleArn, "arn:aws-us-gov:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000", "role paths and other partitions");
  assert.equal(accepted.modelDataUrl, "s3://my.models-2024/team/it's(v2)*/models/", "S3's safe characters, a multi-model prefix");
  assert.equal(accepted.instanceType, "ml.g5.12xlarge");
  assert.equal(loadPushOptions({ "model-data": "s3://bucket-only" }, {}, "/w").deploy.modelDataUrl, "s3://bucket-only", "a bucket as a multi-model prefix");
  assert.equal(loadPushOptions({ registry: "[::1]:5000" }, {}, "/w").registry, "[::1]:5000");
});
