import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { describe, test } from "node:test";
import { defaultConfig, loadConfig } from "../../src/config/server-config.js";
import { ConfigurationError } from "../../src/errors.js";

describe("loadConfig", () => {
  test("with no environment: the documented defaults", () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.modelDir, "/opt/ml/model");
    assert.equal(config.timeoutMs, 60_000);
    assert.equal(config.maxPayloadBytes, 6 * 1024 * 1024);
    assert.equal(config.defaultAccept, "application/json");
    assert.equal(config.logLevel, "info");
    assert.deepEqual(config.onnx.executionProviders, ["cpu"]);
  });

  test("one worker fewer than the cores, at least one; intra-op threads split the cores between them", () => {
    const cores = availableParallelism();
    const config = loadConfig({});
    assert.equal(config.workers, Math.max(1, cores - 1));
    assert.equal(config.onnx.intraOpNumThreads, Math.max(1, Math.floor(cores / config.workers)));
    assert.equal(loadConfig({ SAGEMAKER_MODEL_SERVER_WORKERS: "1" }).onnx.intraOpNumThreads, cores);
    assert.equal(loadConfig({ SAGEMAKER_MODEL_SERVER_WORKERS: String(cores * 4) }).onnx.intraOpNumThreads, 1);
  });

  test("reads every kind of variable, and flags override the environment", () => {
    const config = loadConfig(
      {
        SAGEMAKER_BIND_TO_PORT: "9000",
        SAGEMAKER_MODEL_SERVER_TIMEOUT: "1.5",
        SAGEMAKER_CONTAINER_LOG_LEVEL: "warning",
        BYOC_ONNX_PROVIDERS: " CUDA, cpu ",
        BYOC_ONNX_GRAPH_OPTIMIZATION: "Basic",
        BYOC_ONNX_CPU_MEM_ARENA: "off",
        BYOC_ONNX_WARM_UP: "yes",
        BYOC_ONNX_INTRA_OP_THREADS: "3",
        BYOC_ARCHIVE_MAX_ENTRIES: "10",
        SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "Text/CSV",
        BYOC_HOST: "  ",
      },
      { port: 9100, onnx: { deviceId: 2 } },
    );
    assert.equal(config.port, 9100, "the flag wins");
    assert.equal(config.timeoutMs, 1_500, "seconds, fractions allowed");
    assert.equal(config.logLevel, "warn");
    assert.deepEqual(config.onnx.executionProviders, ["cuda", "cpu"]);
    assert.equal(config.onnx.graphOptimizationLevel, "basic");
    assert.equal(config.onnx.enableCpuMemArena, false);
    assert.equal(config.onnx.warmUp, true);
    assert.equal(config.onnx.intraOpNumThreads, 3);
    assert.equal(config.onnx.deviceId, 2);
    assert.deepEqual(config.archive, { maxBytes: defaultConfig.archive.maxBytes, maxEntries: 10, maxExpansionRatio: defaultConfig.archive.maxExpansionRatio });
    assert.equal(config.defaultAccept, "text/csv");
    assert.equal(config.host, defaultConfig.host, "a blank variable counts as unset");
  });

  const invalid: [Record<string, string>, RegExp][] = [
    [{ SAGEMAKER_BIND_TO_PORT: "70000" }, /SAGEMAKER_BIND_TO_PORT="70000" must be a whole number from 0 to 65535/],
    [{ SAGEMAKER_MODEL_SERVER_WORKERS: "1.5" }, /SAGEMAKER_MODEL_SERVER_WORKERS="1.5" must be a whole number/],
    [{ SAGEMAKER_MODEL_SERVER_TIMEOUT: "-1" }, /SAGEMAKER_MODEL_SERVER_TIMEOUT="-1" must be a positive number of seconds/],
    [{ SAGEMAKER_MODEL_SERVER_TIMEOUT: "soon" }, /must be a positive number of seconds/],
    [{ BYOC_ONNX_WARM_UP: "maybe" }, /BYOC_ONNX_WARM_UP="maybe" must be true or false/],
    [{ BYOC_ONNX_EXECUTION_MODE: "fast" }, /BYOC_ONNX_EXECUTION_MODE="fast" must be one of sequential, parallel/],
    [{ BYOC_ONNX_PROVIDERS: "cuda,rocm" }, /BYOC_ONNX_PROVIDERS="cuda,rocm" must be a comma-separated list of cuda, tensorrt, webgpu, cpu/],
    [{ BYOC_ONNX_PROVIDERS: "," }, /BYOC_ONNX_PROVIDERS="," must be a comma-separated list of/],
    [{ SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "json" }, /SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="json" must be a media type/],
    [{ SAGEMAKER_CONTAINER_LOG_LEVEL: "loud" }, /SAGEMAKER_CONTAINER_LOG_LEVEL="loud" must be one of trace, debug, info, warn, error, fatal, silent, or Python's 10, 20, 30, 40, 50/],
  ];
  for (const [env, message] of invalid) {
    test(`refuses ${JSON.stringify(env)} naming the variable and what it accepts`, () => {
      assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigurationError && message.test(error.message));
    });
  }

  test("overrides given in code are checked like the environment: each problem named by its option, with what it accepts", () => {
    assert.throws(
      () => loadConfig({}, { workers: 0, port: 70000, timeoutMs: -5, defaultAccept: "json" }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.equal(
          error.message,
          [
            "4 invalid settings:",
            "  workers=0 must be a whole number from 1 to 1024",
            "  port=70000 must be a whole number from 0 to 65535",
            "  timeoutMs=-5 must be a positive whole number of milliseconds up to 2147483000",
            '  defaultAccept="json" must be a media type such as application/json',
          ].join("\n"),
        );
        return true;
      },
    );
  });

  test("overrides reach nested settings one by one, and the environment fills the rest", () => {
    const config = loadConfig({ BYOC_ONNX_DEVICE_ID: "1", BYOC_MULTIPART_MAX_FILES: "3" }, { onnx: { executionProviders: ["cuda", "cpu"] }, multipart: { maxFields: 5 } });
    assert.deepEqual(config.onnx.executionProviders, ["cuda", "cpu"]);
    assert.equal(config.onnx.deviceId, 1);
    assert.deepEqual(config.multipart, { maxFiles: 3, maxFileBytes: defaultConfig.multipart.maxFileBytes, maxFields: 5 });
  });

  test("a value loadConfig returned is accepted back as overrides unchanged", () => {
    const config = loadConfig({ SAGEMAKER_MODEL_SERVER_WORKERS: "3", SAGEMAKER_MODEL_SERVER_TIMEOUT: "2.5" });
    assert.deepEqual(loadConfig({}, config), config);
  });
});
