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
      extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
    });
  });

  it("lets the intra-op and inter-op thread pools spin only when allowSpinning is set", () => {
    const spinning = toSessionOptions({ ...config, allowSpinning: true }, "cpu");
    assert.deepEqual(spinning.extra, { session: { intra_op: { allow_spinning: "1" }, inter_op: { allow_spinning: "1" } } });
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
  it("runs on the CPU with every optimisation, warm-up, and thread pools that do not spin", () => {
    assert.deepEqual(defaultOnnxSessionConfig, {
      executionProviders: ["cpu"],
      deviceId: 0,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      enableCpuMemArena: true,
      enableMemPattern: true,
      allowSpinning: false,
      warmUp: true,
    });
  });

  it("cannot be changed by accident", () => {
    assert.ok(Object.isFrozen(defaultOnnxSessionConfig));
    assert.ok(Object.isFrozen(defaultOnnxSessionConfig.executionProviders));
  });
});
