import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { defaultOnnxSessionConfig } from "../../src/models/onnx/session-config.js";
import { loadModel, type LoadModelOptions } from "../../src/models/load-model.js";
import { ConfigurationError } from "../../src/errors.js";
import type { Handlers, RequestContext } from "../../src/handlers/types.js";
import { captureLog } from "../helpers/capture-log.js";
import { buildMatMulModel, writeModel } from "../helpers/onnx-models.js";
import { irisModelDir, setosaRow } from "../helpers/server.js";

const run = promisify(execFile);
const root = await mkdtemp(join(tmpdir(), "byoc-load-model-"));
after(() => rm(root, { recursive: true, force: true }));

const { log } = captureLog();
const options: LoadModelOptions = { name: "iris", modelDir: irisModelDir, workerId: 0, onnx: { ...defaultOnnxSessionConfig, intraOpNumThreads: 1 }, batching: { maxBatchSize: 1, maxDelayMs: 0 }, log };

function requestContext(): RequestContext {
  return {
    contentType: "application/json",
    accept: "application/json",
    customAttributes: undefined,
    responseCustomAttributes: undefined,
    inferenceId: "test",
    targetModel: undefined,
    targetVariant: undefined,
    sessionId: undefined,
    log,
    signal: new AbortController().signal,
  };
}

async function assertReleased(session: InferenceSession): Promise<void> {
  const feeds = { features: new Tensor("float32", new Float32Array(4), [1, 4]) };
  await assert.rejects(session.run(feeds), /disposed/i, "running a released session fails");
}

test("without modelFn the ONNX files load as a model with the session's signature, and release disposes the session", async () => {
  const { model } = await loadModel({}, options);
  assert.deepEqual(model.signature?.inputs, [{ name: "features", dtype: "float32", shape: ["batch", 4] }]);
  const prediction = (await model.predict([setosaRow], requestContext())) as { shape: number[] };
  assert.deepEqual(prediction.shape, [1, 3]);
  await model.release();
  await assertReleased(model.value as InferenceSession);
});

test("sessions a modelFn loads through ctx are run by the default predictFn and released with the model", async () => {
  const handlers: Handlers = { modelFn: async (dir, ctx) => ({ iris: await ctx.loadOnnxModel(join(dir, "iris.onnx")) }) };
  const { model } = await loadModel(handlers, options);
  const ctx = { ...requestContext(), targetModel: "iris" };
  assert.deepEqual(((await model.predict([setosaRow], ctx)) as { shape: number[] }).shape, [1, 3]);
  await model.release();
  await assertReleased((model.value as { iris: InferenceSession }).iris);
});

test("a session modelFn creates itself and returns is released with the model too", async () => {
  let created: InferenceSession | undefined;
  const handlers: Handlers = {
    modelFn: async (dir) => (created = await InferenceSession.create(join(dir, "iris.onnx"))),
  };
  const { model } = await loadModel(handlers, options);
  await model.release();
  assert.ok(created);
  await assertReleased(created);
});

test("a modelFn that returns something other than sessions, without a predictFn, fails the load naming predictFn", async () => {
  const handlers: Handlers = { modelFn: () => ({ weights: [1, 2, 3] }) };
  await assert.rejects(loadModel(handlers, options), (error: unknown) => {
    assert.ok(error instanceof ConfigurationError);
    assert.match(error.message, /modelFn returned an object \(Object\).*export a predictFn/);
    return true;
  });
});

test("predictFn receives the modelFn value and the input", async () => {
  const seen: unknown[] = [];
  const value = { scale: 2 };
  const handlers: Handlers = {
    modelFn: () => value,
    predictFn: (input, model) => {
      seen.push(model);
      return (input as number[]).map((x) => x * (model as typeof value).scale);
    },
  };
  const { model } = await loadModel(handlers, options);
  assert.deepEqual(await model.predict([1, 2], requestContext()), [2, 4]);
  assert.equal(seen[0], value);
  assert.equal(model.signature, undefined);
});

test("warmUpFn runs once with the model before the load resolves", async () => {
  const calls: unknown[] = [];
  const handlers: Handlers = { modelFn: () => "weights", predictFn: () => 0, warmUpFn: (model) => void calls.push(model) };
  await loadModel(handlers, options);
  assert.deepEqual(calls, ["weights"]);
});

test("a warmUpFn that throws fails the load and releases the sessions already loaded", async () => {
  let session: InferenceSession | undefined;
  const handlers: Handlers = {
    modelFn: async (dir, ctx) => (session = await ctx.loadOnnxModel(join(dir, "iris.onnx"))),
    warmUpFn: () => {
      throw new Error("warm-up needs a GPU");
    },
  };
  await assert.rejects(loadModel(handlers, options), /warm-up needs a GPU/);
  assert.ok(session);
  await assertReleased(session);
});

test("release calls unloadFn with the model first, then disposes the sessions", async () => {
  const order: string[] = [];
  let session: InferenceSession | undefined;
  const handlers: Handlers = {
    modelFn: async (dir, ctx) => (session = await ctx.loadOnnxModel(join(dir, "iris.onnx"))),
    unloadFn: async (model) => {
      assert.equal(model, session);
      // Still usable here: the toolkit releases after unloadFn.
      await (model as InferenceSession).run({ features: new Tensor("float32", new Float32Array(4), [1, 4]) });
      order.push("unloadFn");
    },
  };
  const { model } = await loadModel(handlers, options);
  await model.release();
  order.push("released");
  assert.deepEqual(order, ["unloadFn", "released"]);
  assert.ok(session);
  await assertReleased(session);
});

test("in a fresh process, the reported memory of an ONNX model is its load's growth of resident memory: at least the weights of a 16 MiB model", async () => {
  // A process of its own: resident memory grows only when the allocator takes new pages, and
  // pages freed by earlier tests in this one would be reused.
  const dir = join(root, "big");
  await mkdir(dir);
  await writeModel(dir, "big.onnx", buildMatMulModel(2048));
  const script = [
    `import { loadModel } from ${JSON.stringify(new URL("../../src/models/load-model.ts", import.meta.url).href)};`,
    `import { defaultOnnxSessionConfig } from ${JSON.stringify(new URL("../../src/models/onnx/session-config.ts", import.meta.url).href)};`,
    `import { pino } from "pino";`,
    `const loaded = await loadModel({}, { name: "big", modelDir: ${JSON.stringify(dir)}, workerId: 0, onnx: { ...defaultOnnxSessionConfig, intraOpNumThreads: 1 }, batching: { maxBatchSize: 1, maxDelayMs: 0 }, log: pino({ level: "silent" }) });`,
    "console.log(JSON.stringify({ memoryBytes: loaded.memoryBytes, loadMs: loaded.loadMs }));",
    "await loaded.model.release();",
  ].join("\n");
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script]);
  const { memoryBytes, loadMs } = JSON.parse(stdout) as { memoryBytes: number; loadMs: number };
  const weights = 2048 * 2048 * 4;
  assert.ok(memoryBytes >= weights * 0.9, `measured ${memoryBytes} bytes for ${weights} bytes of weights`);
  assert.ok(memoryBytes < weights * 8, `measured ${memoryBytes} bytes, more than 8x the weights`);
  assert.ok(loadMs > 0);
});

test("memory a modelFn holds in buffers is reported exactly, even where resident memory reuses freed pages", async () => {
  const sizes = [16, 16];
  for (const mib of sizes) {
    const bytes = mib * 1024 * 1024;
    const handlers: Handlers = { modelFn: () => Buffer.alloc(bytes, 1), predictFn: () => 0 };
    const { model, memoryBytes } = await loadModel(handlers, { ...options, name: "buffer" });
    assert.ok(memoryBytes >= bytes && memoryBytes < bytes + 1024 * 1024, `measured ${memoryBytes} bytes for a buffer of ${bytes}`);
    await model.release();
  }
});
