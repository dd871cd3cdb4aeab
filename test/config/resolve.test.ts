import assert from "node:assert/strict";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { asyncModeSettings, asyncSettings } from "../../src/config/async-config.js";
import { buildSettings } from "../../src/config/build-settings.js";
import { integer, listOf, seconds, text } from "../../src/config/kinds.js";
import { pushSettings } from "../../src/config/push-settings.js";
import { parseFlagValue, resolveSettings } from "../../src/config/resolve.js";
import { serverSettings } from "../../src/config/server-config.js";
import { defineSettings, flag, setting } from "../../src/config/setting.js";
import { ConfigurationError } from "../../src/errors.js";

function problemsOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigurationError, String(error));
    return error.message;
  }
  assert.fail("no ConfigurationError");
}

test("precedence: code, then flags, then the first variable set, then the default", () => {
  const region = (sources: Parameters<typeof resolveSettings>[1]) => resolveSettings(asyncSettings, sources).region;
  const env = { SAGEMAKER_REGION: "eu-west-1", AWS_DEFAULT_REGION: "eu-west-2" };
  const flags = { command: "invoke", values: { region: "eu-west-3" } } as const;
  assert.equal(region({}), "us-east-1", "the default");
  assert.equal(region({ env }), "eu-west-1", "the first variable set, in the declared order");
  assert.equal(region({ env: { ...env, BYOC_ASYNC_REGION: "ap-south-1" } }), "ap-south-1");
  assert.equal(region({ env, flags }), "eu-west-3", "flags over variables");
  assert.equal(region({ env, flags, overrides: { region: "ca-central-1" } }), "ca-central-1", "code over flags");
  assert.equal(region({ env, flags: { command: "serve", values: { region: "eu-west-3" } } }), "eu-west-1", "a flag counts only for the commands that take it");
});

test("a blank variable or flag value counts as unset; undefined in code leaves the setting to the environment", () => {
  const config = resolveSettings(serverSettings, {
    env: { BYOC_HOST: "  ", SAGEMAKER_BIND_TO_PORT: "9000" },
    flags: { command: "serve", values: { port: "", "model-dir": " " } },
  });
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 9000);
  assert.equal(config.modelDir, "/opt/ml/model");
  assert.equal(resolveSettings(serverSettings, { env: { SAGEMAKER_BIND_TO_PORT: "9000" }, overrides: { port: undefined } }).port, 9000);
});

test("derived defaults follow the values they come from, whatever their source", () => {
  const cores = availableParallelism();
  const fromFlag = resolveSettings(serverSettings, { flags: { command: "serve", values: { workers: String(cores * 2) } } });
  assert.equal(fromFlag.onnx.intraOpNumThreads, 1, "intra-op threads split the cores between the flag's workers");
  assert.equal(resolveSettings(serverSettings, { overrides: { workers: 1 } }).onnx.intraOpNumThreads, cores);
  assert.equal(resolveSettings(serverSettings, {}).workers, Math.max(1, cores - 1));

  const queue = resolveSettings(asyncSettings, { flags: { command: "gateway", values: { "endpoint-name": "from-flag" } } }).queueDir;
  assert.equal(queue, join(tmpdir(), "sagemaker-byoc-async", "from-flag"), "one queue per endpoint, named by the flag");
  const pathStyle = resolveSettings(asyncSettings, { env: { AWS_ENDPOINT_URL_S3: "http://minio:9000" } });
  assert.equal(pathStyle.s3ForcePathStyle, true, "an S3 endpoint override turns on path-style URLs");
  assert.equal(resolveSettings(asyncSettings, { env: { AWS_ENDPOINT_URL_S3: "http://minio:9000", BYOC_ASYNC_S3_FORCE_PATH_STYLE: "off" } }).s3ForcePathStyle, false);
  assert.equal(resolveSettings(buildSettings, { flags: { command: "build", values: { target: "GPU" } } }).baseImage, "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04");
});

test("every problem of every source is reported at once", () => {
  const message = problemsOf(() =>
    resolveSettings(serverSettings, {
      env: { SAGEMAKER_MODEL_SERVER_WORKERS: "many", BYOC_ONNX_MEM_PATTERN: "sometimes" },
      flags: { command: "serve", values: { port: "70000" } },
      overrides: { timeoutMs: 0 },
    }),
  );
  assert.match(message, /^4 invalid settings:\n/);
  for (const named of ['SAGEMAKER_MODEL_SERVER_WORKERS="many"', 'BYOC_ONNX_MEM_PATTERN="sometimes"', '--port "70000"', "timeoutMs=0"]) assert.ok(message.includes(named), named);
});

test("a variable shared by two settings is reported once", () => {
  assert.equal(problemsOf(() => resolveSettings(asyncSettings, { env: { AWS_ENDPOINT_URL: "minio:9000" } })), 'AWS_ENDPOINT_URL="minio:9000" must be an http:// or https:// URL');
});

test("rules across settings run once all sources are merged, naming each value as it was given", () => {
  assert.equal(
    problemsOf(() => resolveSettings(asyncSettings, { env: { BYOC_ASYNC_RETRY_BASE_SECONDS: "10", BYOC_ASYNC_RETRY_MAX_SECONDS: "1" } })),
    "BYOC_ASYNC_RETRY_MAX_SECONDS (1) must not be below BYOC_ASYNC_RETRY_BASE_SECONDS (10)",
  );
  assert.equal(
    problemsOf(() => resolveSettings(asyncSettings, { env: { BYOC_ASYNC_RETRY_BASE_SECONDS: "10" }, overrides: { retryMaxMs: 100 } })),
    "retryMaxMs (100) must not be below BYOC_ASYNC_RETRY_BASE_SECONDS (10)",
  );
  assert.equal(
    problemsOf(() => resolveSettings(asyncSettings, { env: { BYOC_ASYNC_RETRY_BASE_SECONDS: "60" } })),
    "BYOC_ASYNC_RETRY_MAX_SECONDS (default 30) must not be below BYOC_ASYNC_RETRY_BASE_SECONDS (60)",
    "a default that breaks a rule is named by its variable",
  );
  assert.equal(resolveSettings(asyncSettings, { env: { BYOC_ASYNC_RETRY_BASE_SECONDS: "60" }, overrides: { retryMaxMs: 60_000 } }).retryMaxMs, 60_000);
  assert.equal(
    problemsOf(() => resolveSettings(pushSettings, { env: { BYOC_REGISTRY_PASSWORD: "pw" } })),
    "BYOC_REGISTRY_USERNAME is not set: BYOC_REGISTRY_USERNAME and BYOC_REGISTRY_PASSWORD go together",
  );
});

test("rules do not run while a value is invalid: the value's own problem is the one reported", () => {
  assert.equal(
    problemsOf(() => resolveSettings(asyncSettings, { env: { BYOC_ASYNC_RETRY_BASE_SECONDS: "ten", BYOC_ASYNC_RETRY_MAX_SECONDS: "1" } })),
    'BYOC_ASYNC_RETRY_BASE_SECONDS="ten" must be a positive number of seconds up to 2147483',
  );
});

test("an unknown option in code is reported with the options there are, at any depth", () => {
  const message = problemsOf(() => resolveSettings(serverSettings, { overrides: { prot: 9000, onnx: { threads: 2 }, toString: 1 } }));
  assert.match(message, /prot is not a setting; settings are port, host, modelDir, /);
  assert.match(message, /onnx\.threads is not a setting; onnx has executionProviders, deviceId, /);
  assert.match(message, /toString is not a setting/, "inherited names are not settings");
});

test("secret values never appear in messages", () => {
  const invalid = problemsOf(() => resolveSettings(pushSettings, { overrides: { registryPassword: 12345 } }));
  assert.equal(invalid, "registryPassword must be a password");
  const unpaired = problemsOf(() => resolveSettings(pushSettings, { env: { AWS_SECRET_ACCESS_KEY: "s3cr3t-value" } }));
  assert.equal(unpaired, "AWS_ACCESS_KEY_ID is not set: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together");
});

test("repeatable flags add up their occurrences, each checked on its own; switches set their value", () => {
  const build = resolveSettings(buildSettings, { flags: { command: "build", values: { tag: ["a:1", "b:2,c:3"], "no-build": true, "multi-model": true } } });
  assert.deepEqual(build.tags, ["a:1", "b:2", "c:3"]);
  assert.equal(build.build, false, "--no-build sets false");
  assert.equal(build.multiModel, true);
  assert.equal(resolveSettings(buildSettings, {}).build, true);
  assert.equal(resolveSettings(asyncModeSettings, { env: { BYOC_ASYNC_ENABLED: "off" }, flags: { command: "serve", values: { async: true } } }).enabled, true, "--async wins over the variable");
});

test("a group declared with the same API: a new setting is one declaration", () => {
  const limit = setting({ kind: integer({ min: 1, max: 10 }), env: ["BYOC_TEST_LIMIT", "LEGACY_LIMIT"], flag: flag("--limit", ["serve"]), default: 5, description: "a limit" });
  const label = setting({ kind: text("a label"), env: "BYOC_TEST_LABEL", derive: { text: "limit-<n>", from: (read) => `limit-${read(limit)}` }, description: "a label" });
  const group = defineSettings({ limit, nested: { label } }, [({ read, given }) => (read(limit) === 7 ? `${given(limit)} is unlucky` : undefined)]);
  assert.deepEqual(resolveSettings(group, { env: { LEGACY_LIMIT: "3" } }), { limit: 3, nested: { label: "limit-3" } });
  assert.deepEqual(resolveSettings(group, { flags: { command: "serve", values: { limit: "4" } }, overrides: { nested: { label: "x" } } }), { limit: 4, nested: { label: "x" } });
  assert.equal(problemsOf(() => resolveSettings(group, { flags: { command: "serve", values: { limit: "7" } } })), "--limit (7) is unlucky");
  assert.equal(problemsOf(() => resolveSettings(group, { env: { LEGACY_LIMIT: "11" } })), 'LEGACY_LIMIT="11" must be a whole number from 1 to 10');
});

test("a command parameter that is not a setting is read with a setting's kind and reported the same way", () => {
  assert.equal(parseFlagValue("--wait-timeout", "1.5", seconds()), 1500);
  assert.equal(parseFlagValue("--wait-timeout", " ", seconds()), undefined);
  assert.equal(parseFlagValue("--wait-timeout", undefined, seconds()), undefined);
  assert.deepEqual(parseFlagValue("--status", "Failed, queued", listOf(["queued", "running", "completed", "failed"])), ["failed", "queued"]);
  assert.equal(problemsOf(() => parseFlagValue("--wait-timeout", "soon", seconds())), '--wait-timeout "soon" must be a positive number of seconds');
});
