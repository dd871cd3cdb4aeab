import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultOnnxSessionConfig, toSessionOptions, type OnnxSessionConfig } from "../../../src/models/onnx/session-config.js";

describe("toSessionOptions", () => {
  const config: OnnxSessionConfig = {
    ...defaultOnnxSessionConfig,
    deviceId: 2,
    graphOptimizationLevel: "basic",
    executionMode: "parallel",
    enableCpuMemArena: false,
    enableMemPattern: false,
  };

  it("passes the device id to cuda and tensorrt, and names webgpu and cpu alone", () => {
    assert.deepEqual(toSessionOptions(config, "cuda").executionProviders, [{ name: "cuda", deviceId: 2 }]);
    assert.deepEqual(toSessionOptions(config, "tensorrt").executionProviders, [{ name: "tensorrt", deviceId: 2 }]);
    assert.deepEqual(toSessionOptions(config, "webgpu").executionProviders, ["webgpu"]);
    assert.deepEqual(toSessionOptions(config, "cpu").executionProviders, ["cpu"]);
  });

  it("carries the graph, execution and memory settings", () => {
    assert.deepEqual(toSessionOptions(config, "cpu"), {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "basic",
      executionMode: "parallel",
      enableCpuMemArena: false,
      enableMemPattern: false,
    });
  });

  it("sets thread counts only when configured, leaving onnxruntime's defaults otherwise", () => {
    const options = toSessionOptions(config, "cpu");
    assert.equal("intraOpNumThreads" in options, false);
    assert.equal("interOpNumThreads" in options, false);
    const threaded = toSessionOptions({ ...config, intraOpNumThreads: 1, interOpNumThreads: 3 }, "cpu");
    assert.equal(threaded.intraOpNumThreads, 1);
    assert.equal(threaded.interOpNumThreads, 3);
  });
});

describe("defaultOnnxSessionConfig", () => {
  it("runs on the CPU with every optimisation and warm-up", () => {
    assert.deepEqual(defaultOnnxSessionConfig, {
      executionProviders: ["cpu"],
      deviceId: 0,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      enableCpuMemArena: true,
      enableMemPattern: true,
      warmUp: true,
    });
  });

  it("cannot be changed by accident", () => {
    assert.ok(Object.isFrozen(defaultOnnxSessionConfig));
    assert.ok(Object.isFrozen(defaultOnnxSessionConfig.executionProviders));
  });
});
