/**
 * Loading and releasing a pipeline of stages, and what a handlers file may export with one: the
 * same runtime a worker runs, in this thread, through the test endpoint.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Tensor, type InferenceSession } from "onnxruntime-node";
import { ConfigurationError, defineStage, stages, type NDArray } from "../../src/index.js";
import { validateHandlers } from "../../src/handlers/handlers-file.js";
import { createTestEndpoint } from "../../src/testing/test-endpoint.js";
import { buildModel, writeModel } from "../helpers/onnx-models.js";

const remoteFixture = fileURLToPath(new URL("../fixtures/handlers/stages-remote.ts", import.meta.url));

describe("loading a pipeline of stages", () => {
  let modelDir: string;

  before(async () => {
    modelDir = await mkdtemp(join(tmpdir(), "stage-loading-"));
    const row = { dtype: "float32", shape: [1, 2] } as const;
    await mkdir(join(modelDir, "negator"));
    await writeModel(join(modelDir, "negator"), "negate.onnx", buildModel({ inputs: [{ name: "x", ...row }], outputs: [{ name: "y", ...row }], nodes: [{ opType: "Neg", inputs: ["x"], outputs: ["y"] }] }));
  });

  after(() => rm(modelDir, { recursive: true, force: true }));

  test("in a single thread a stage with workers of its own runs in place, with the same answer", async () => {
    const endpoint = await createTestEndpoint({ handlers: remoteFixture, modelDir });
    try {
      const response = await endpoint.invoke({ json: [1, 2, 3] });
      assert.deepEqual(response.json(), { predictions: { values: [10, 20, 30], early: false } });
      assert.deepEqual(endpoint.model, { produce: { stage: "produce" }, heavy: { stage: "heavy" }, finish: { stage: "finish" } }, "the model is each stage's, by name");
    } finally {
      await endpoint.close();
    }
  });

  test("`model` naming a directory loads its ONNX files as ctx.loadOnnxModels does (one file: its session); close releases the stages, each unloadFn called", async () => {
    const unloaded: string[] = [];
    const negate = defineStage({
      name: "negate",
      model: "negator",
      predictFn: async (values: number[], session: InferenceSession) => {
        const { y } = await session.run({ x: new Tensor("float32", Float32Array.from(values), [1, 2]) });
        return [...(y?.data as Float32Array)];
      },
      unloadFn: () => void unloaded.push("negate"),
    });
    const total = defineStage({ name: "total", predictFn: (values: number[]) => values.reduce((sum, value) => sum + value, 0), unloadFn: () => void unloaded.push("total") });
    const endpoint = await createTestEndpoint({ handlers: { pipeline: stages(negate).then(total) }, modelDir });
    assert.deepEqual((await endpoint.invoke({ json: [2, 5] })).json(), { predictions: -7 });
    await endpoint.close();
    assert.deepEqual(unloaded.sort(), ["negate", "total"]);
  });

  test("a stage whose model fails to load fails the load, naming the stage; the stages loaded before it are released", async () => {
    const unloaded: string[] = [];
    const first = defineStage({ name: "first", modelFn: () => "ready", predictFn: (value: number) => value, unloadFn: () => void unloaded.push("first") });
    const broken = defineStage({
      name: "broken",
      modelFn: () => {
        throw new Error("weights are missing");
      },
      predictFn: (value: number) => value,
    });
    await assert.rejects(createTestEndpoint({ handlers: { pipeline: stages(first).then(broken) }, modelDir }), /^Error: Stage "broken": weights are missing$/);
    assert.deepEqual(unloaded, ["first"]);
  });

  test("a stage's model file that does not exist is a ConfigurationError naming the stage and the path", async () => {
    const embed = defineStage({ name: "embed", model: "encoder.onnx" });
    await assert.rejects(createTestEndpoint({ handlers: { pipeline: stages(embed) }, modelDir }), (error: Error) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(error.message, `Stage "embed": its model ${join(modelDir, "encoder.onnx")} does not exist`);
      return true;
    });
  });

  test("an ONNX stage without predictFn runs the default predict step, its output an NDArray", async () => {
    const parse = defineStage({ name: "parse", predictFn: (values: number[]): NDArray<"float32"> => ({ dtype: "float32", shape: [1, 2], data: Float32Array.from(values) }) });
    const negate = defineStage({ name: "negate", model: "negator/negate.onnx", batching: false });
    const endpoint = await createTestEndpoint({ handlers: { pipeline: stages(parse).then(negate) }, modelDir });
    try {
      assert.deepEqual((await endpoint.invoke({ json: [1, -4] })).json(), { predictions: [[-1, 4]] });
    } finally {
      await endpoint.close();
    }
  });
});

describe("a handlers file exporting a pipeline", () => {
  const pipeline = stages(defineStage({ name: "only", predictFn: (value: unknown) => value }));

  test("may export codecs beside it", () => {
    const handlers = validateHandlers("inference.ts", { pipeline, codecs: [] });
    assert.equal(handlers.pipeline, pipeline);
  });

  test("may not export handlers or batching beside it: the stages have their own", () => {
    assert.throws(
      () => validateHandlers("inference.ts", { pipeline, predictFn: () => 1, batching: false }),
      new ConfigurationError("inference.ts exports pipeline together with predictFn, batching; a pipeline's stages have their own handlers and settings, export one or the other"),
    );
  });

  test("must export one built by stages()", () => {
    assert.throws(() => validateHandlers("inference.ts", { pipeline: [pipeline] }), /^ConfigurationError: inference.ts: pipeline must be built with stages\(first\)\.then\(next\)\.\.\./);
  });

});
