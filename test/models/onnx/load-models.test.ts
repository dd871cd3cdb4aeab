import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Tensor } from "onnxruntime-node";
import { ConfigurationError } from "../../../src/errors.js";
import { isOnnxSession, loadOnnxModels, releaseOnnxModels } from "../../../src/models/onnx/load-models.js";
import { defaultOnnxSessionConfig } from "../../../src/models/onnx/session-config.js";
import { captureLog } from "../../helpers/capture-log.js";
import {
  buildAddModel,
  buildIdentityModel,
  buildReshapeModel,
  buildTwoOutputModel,
  OCR_MODELS,
  writeModel,
} from "../../helpers/onnx-models.js";

const config = { ...defaultOnnxSessionConfig, intraOpNumThreads: 1 };
const noWarmUp = { ...config, warmUp: false };

describe("loadOnnxModels", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "load-models-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("returns the session itself when the directory holds one model", async () => {
    await copyFile(OCR_MODELS.classifier, join(dir, "classifier.onnx"));
    await mkdir(join(dir, "code"));
    await writeFile(join(dir, "code", "inference.js"), "export {};");
    const { log } = captureLog();
    const model = await loadOnnxModels(dir, noWarmUp, log);
    try {
      assert.ok(isOnnxSession(model));
      assert.deepEqual(model.inputNames, ["x"]);
    } finally {
      await releaseOnnxModels(model);
    }
  });

  it("returns a frozen record keyed by file name without .onnx when it holds several", async () => {
    await writeModel(dir, "add.onnx", buildAddModel());
    await writeModel(dir, "two-outputs.onnx", buildTwoOutputModel());
    await writeFile(join(dir, "notes.txt"), "not a model");
    const { log } = captureLog();
    const model = await loadOnnxModels(dir, noWarmUp, log);
    try {
      assert.equal(isOnnxSession(model), false);
      assert.ok(Object.isFrozen(model));
      assert.deepEqual(Object.keys(model).sort(), ["add", "two-outputs"]);
      const sessions = model as Readonly<Record<string, { inputNames: readonly string[] }>>;
      assert.deepEqual(sessions["add"]?.inputNames, ["a", "b"]);
      assert.deepEqual(sessions["two-outputs"]?.inputNames, ["x"]);
    } finally {
      await releaseOnnxModels(model);
    }
  });

  it("follows a symbolic link to a model file", async () => {
    await symlink(OCR_MODELS.classifier, join(dir, "linked.onnx"));
    const { log } = captureLog();
    const model = await loadOnnxModels(dir, noWarmUp, log);
    assert.ok(isOnnxSession(model));
    await releaseOnnxModels(model);
  });

  it("fails naming the directory and listing what it holds when it has no model", async () => {
    await mkdir(join(dir, "nested"));
    await writeModel(join(dir, "nested"), "hidden.onnx", buildAddModel());
    await writeFile(join(dir, "model.tar.gz"), "");
    const { log } = captureLog();
    await assert.rejects(loadOnnxModels(dir, noWarmUp, log), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.ok(error.message.includes(`No .onnx file directly in the model directory ${dir} (it holds model.tar.gz, nested/)`));
      assert.match(error.message, /Subdirectories are not searched/);
      return true;
    });
  });

  it("says so when the directory is empty or missing", async () => {
    const { log } = captureLog();
    await assert.rejects(loadOnnxModels(dir, noWarmUp, log), /\(it is empty\)/);
    await assert.rejects(loadOnnxModels(join(dir, "absent"), noWarmUp, log), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /Cannot read the model directory .*absent: it does not exist/);
      return true;
    });
  });

  it("fails with the reason when one of the models cannot load", async () => {
    await writeModel(dir, "good.onnx", buildAddModel());
    await writeFile(join(dir, "zbroken.onnx"), "not protobuf");
    const { log } = captureLog();
    await assert.rejects(loadOnnxModels(dir, noWarmUp, log), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /zbroken\.onnx/);
      return true;
    });
  });

  it("warms every session up with one run on zero-filled inputs", async () => {
    await copyFile(OCR_MODELS.classifier, join(dir, "classifier.onnx"));
    await writeModel(dir, "ids.onnx", buildIdentityModel("int64", ["batch", "tokens"]));
    await writeModel(dir, "words.onnx", buildIdentityModel("string", ["batch"]));
    await writeModel(dir, "mask.onnx", buildIdentityModel("bool", [2, 3]));
    await writeModel(dir, "half.onnx", buildIdentityModel("float16", ["batch", 2]));
    const { log, records } = captureLog();
    const model = await loadOnnxModels(dir, config, log);
    await releaseOnnxModels(model);
    const warmed = records.filter((record) => record.level === "debug" && record.msg.startsWith("Warmed up"));
    assert.deepEqual(warmed.map((record) => record["file"]).sort(), [
      "classifier.onnx",
      "half.onnx",
      "ids.onnx",
      "mask.onnx",
      "words.onnx",
    ]);
    assert.equal(records.some((record) => record.level === "warn"), false);
  });

  it("skips the warm-up when it is turned off", async () => {
    await writeModel(dir, "add.onnx", buildAddModel());
    const { log, records } = captureLog();
    await releaseOnnxModels(await loadOnnxModels(dir, noWarmUp, log));
    assert.equal(records.some((record) => record.msg.startsWith("Warmed up")), false);
  });

  it("logs a warning with the reason and still loads when a model rejects the zero-filled warm-up", async () => {
    await writeModel(dir, "reshape.onnx", buildReshapeModel([2, 2]));
    const { log, records } = captureLog();
    const model = await loadOnnxModels(dir, config, log);
    try {
      const warning = records.find((record) => record.level === "warn");
      assert.equal(warning?.["file"], "reshape.onnx");
      assert.match(warning?.msg ?? "", /Warm-up run of ONNX model reshape\.onnx on zero-filled inputs failed/);
      assert.match(String(warning?.["reason"]), /cannot be reshaped to the requested shape/);
      assert.ok(isOnnxSession(model));
      const outputs = await model.run({ x: new Tensor("float32", new Float32Array([1, 2, 3, 4]), [4]) });
      assert.deepEqual(outputs["y"]?.dims, [2, 2]);
    } finally {
      await releaseOnnxModels(model);
    }
  });
});

describe("releaseOnnxModels", () => {
  it("releases every session, so none can run afterwards", async () => {
    const dir = await mkdtemp(join(tmpdir(), "release-models-"));
    try {
      await writeModel(dir, "a.onnx", buildIdentityModel("float32", ["n"]));
      await writeModel(dir, "b.onnx", buildIdentityModel("float32", ["n"]));
      const { log } = captureLog();
      const model = await loadOnnxModels(dir, noWarmUp, log);
      await releaseOnnxModels(model);
      const feeds = { x: new Tensor("float32", new Float32Array([1]), [1]) };
      for (const session of Object.values(model)) await assert.rejects(session.run(feeds));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
