import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { defaultConfig } from "../../src/config/server-config.js";
import { InlineLane, inlineCandidate, inlineThresholds, type WorkerInvoke } from "../../src/dispatch/inline-lane.js";
import { ModelRuntime } from "../../src/dispatch/model-runtime.js";
import type { SingleModel } from "../../src/dispatch/single-model.js";
import { WorkerPool } from "../../src/dispatch/worker-pool.js";
import type { RuntimeConfig } from "../../src/dispatch/worker-protocol.js";
import type { ModelSource } from "../../src/models/model-source.js";
import type { InvocationRequest, InvocationResult, StageTimings } from "../../src/pipeline/inference-pipeline.js";
import type { RunningServer } from "../../src/server.js";
import { captureLog } from "../helpers/capture-log.js";
import { invoke, irisModelDir, setosaRow, startTestServer } from "../helpers/server.js";

const silent = pino({ level: "silent" });
const runtimeConfig: RuntimeConfig = {
  logLevel: "silent",
  defaultAccept: "application/json",
  defaultContentType: "application/json",
  onnx: { ...defaultConfig.onnx, intraOpNumThreads: 1 },
  multipart: defaultConfig.multipart,
  batching: { maxBatchSize: 1, maxDelayMs: 0 },
};
const irisSource: ModelSource = { name: "model", modelDir: irisModelDir, handlersFile: undefined };
const tinyTimings: StageTimings = { queueMs: 0.05, decodeMs: 0.005, predictMs: 0.02, encodeMs: 0.005 };

function request(body: string | Buffer): InvocationRequest {
  return {
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    contentType: "application/json",
    accept: "application/json",
    customAttributes: undefined,
    inferenceId: "test",
    targetModel: undefined,
    targetVariant: undefined,
    sessionId: undefined,
  };
}

async function loadIris(): Promise<ModelRuntime> {
  const runtime = new ModelRuntime({ workerId: -1, config: runtimeConfig, log: silent });
  await runtime.load(irisSource);
  return runtime;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error(`gave up waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Feeds the lane one window of worker runs that took `ms` each. */
function observeWindow(lane: InlineLane, ms: number): void {
  for (let i = 0; i < inlineThresholds.window; i++) lane.observe(64, { queueMs: 0, decodeMs: 0, predictMs: ms, encodeMs: 0 });
}

async function failure(answer: Promise<InvocationResult>): Promise<Error & { statusCode?: number; code?: string }> {
  try {
    await answer;
  } catch (error) {
    return error as Error & { statusCode?: number; code?: string };
  }
  return assert.fail("expected the request to fail");
}

function bodyText(result: InvocationResult): string {
  return Buffer.from(result.body as string | Uint8Array).toString();
}

describe("inlineCandidate", () => {
  const report = { loadMs: 3, memoryBytes: 1_000_000, signature: undefined, batchSize: 1 };

  it("admits a small CPU model served by the built-in handlers", () => {
    assert.equal(inlineCandidate(irisSource, report, { executionProviders: ["cpu"] }), true);
  });

  it("refuses a model with a handlers file, whose code could block the HTTP thread", () => {
    assert.equal(inlineCandidate({ ...irisSource, handlersFile: "/opt/ml/model/code/inference.js" }, report, { executionProviders: ["cpu"] }), false);
  });

  it("refuses a model configured for a GPU provider", () => {
    assert.equal(inlineCandidate(irisSource, report, { executionProviders: ["cuda", "cpu"] }), false);
  });

  it("refuses a model that measured more than 64 MiB at load", () => {
    assert.equal(inlineCandidate(irisSource, { ...report, memoryBytes: 64 * 1024 * 1024 + 1 }, { executionProviders: ["cpu"] }), false);
  });
});

describe("InlineLane", () => {
  let pool: WorkerPool;
  let workerCalls = 0;
  const toWorkers: WorkerInvoke = (req, signal) => {
    workerCalls++;
    return pool.invoke("model", req, signal);
  };

  before(async () => {
    pool = new WorkerPool({ size: 1, log: silent, recycleMs: 5_000, setup: { config: runtimeConfig, primeOnnxRuntime: false } });
    await pool.start();
    await pool.load(irisSource, "all");
  });
  after(() => pool.close(1_000));

  it("stays closed while the median of a window of worker runs is above 0.25 ms", () => {
    let loads = 0;
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, loadRuntime: () => (loads++, loadIris()) });
    observeWindow(lane, inlineThresholds.openAtMedianMs * 1.5);
    assert.equal(lane.observing, true);
    assert.equal(loads, 0);
    assert.equal(lane.takes(request(JSON.stringify([setosaRow]))), false);
  });

  it("ignores worker runs of bodies larger than it would take", () => {
    let loads = 0;
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, loadRuntime: () => (loads++, loadIris()) });
    for (let i = 0; i < inlineThresholds.window; i++) lane.observe(inlineThresholds.maxBodyBytes + 1, tinyTimings);
    assert.equal(loads, 0);
  });

  it("opens after a window of tiny worker runs, taking bodies up to 8 KiB and leaving larger ones to the workers", async () => {
    const { log, records } = captureLog();
    const lane = new InlineLane({ model: "model", log, toWorkers, loadRuntime: loadIris });
    observeWindow(lane, inlineThresholds.openAtMedianMs);
    await until(() => lane.open, "the lane opened");
    assert.equal(lane.takes(request(Buffer.alloc(inlineThresholds.maxBodyBytes))), true);
    assert.equal(lane.takes(request(Buffer.alloc(inlineThresholds.maxBodyBytes + 1))), false);
    assert.ok(records.some((record) => record.level === "info" && record.msg.includes("now run on the HTTP thread")));
    await lane.close();
  });

  it("answers with the same bytes and content type as a worker", async () => {
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, loadRuntime: loadIris });
    observeWindow(lane, 0.01);
    await until(() => lane.open, "the lane opened");
    const body = JSON.stringify([setosaRow, [6.7, 3.0, 5.2, 2.3]]);
    const fromWorker = await pool.invoke("model", request(body), AbortSignal.timeout(5_000));
    const inline = await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(bodyText(inline), bodyText(fromWorker));
    assert.equal(inline.contentType, fromWorker.contentType);
    await lane.close();
  });

  it("rejects a bad request with the error a worker gives: same name, message, status and code", async () => {
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, loadRuntime: loadIris });
    observeWindow(lane, 0.01);
    await until(() => lane.open, "the lane opened");
    const wrongShape = JSON.stringify([[1, 2]]);
    const fromWorker = await failure(pool.invoke("model", request(wrongShape), AbortSignal.timeout(5_000)));
    const inline = await failure(lane.invoke(request(wrongShape), AbortSignal.timeout(5_000)));
    assert.deepEqual(
      { name: inline.name, message: inline.message, statusCode: inline.statusCode, code: inline.code },
      { name: fromWorker.name, message: fromWorker.message, statusCode: fromWorker.statusCode, code: fromWorker.code },
    );
    await lane.close();
  });

  it("closes for good when one run holds the thread longer than 20 ms, releasing its copy and sending later requests to the workers", async () => {
    let clock = 0;
    let runtime: ModelRuntime | undefined;
    const { log, records } = captureLog();
    const lane = new InlineLane({
      model: "model",
      log,
      toWorkers,
      now: () => (clock += inlineThresholds.closeAtRunMs + 1),
      loadRuntime: async () => (runtime = await loadIris()),
    });
    observeWindow(lane, 0.01);
    await until(() => lane.open, "the lane opened");
    const body = JSON.stringify([setosaRow]);
    const first = await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(lane.open, false);
    assert.equal(lane.takes(request(body)), false);
    assert.ok(records.some((record) => record.level === "warn" && record.msg.includes("held the HTTP thread too long")));
    await until(() => runtime?.valueOf("model") === undefined, "the lane released its copy");
    const callsBefore = workerCalls;
    const queuedAfterClose = await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(workerCalls, callsBefore + 1);
    assert.equal(bodyText(queuedAfterClose), bodyText(first));
  });

  it("closes for good when the median of a window of its runs is above 0.5 ms", async () => {
    let clock = 0;
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, now: () => (clock += 0.4), loadRuntime: loadIris });
    observeWindow(lane, 0.01);
    await until(() => lane.open, "the lane opened");
    const body = JSON.stringify([setosaRow]);
    // Each run reads the clock twice, 0.4 ms apart, so every run measures 0.4 ms...
    for (let i = 0; i < inlineThresholds.window; i++) await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(lane.open, true);
    // ...and with a clock that steps 0.6 ms per read, 0.6 ms.
    const slower = new InlineLane({ model: "model", log: silent, toWorkers, now: () => (clock += 0.6), loadRuntime: loadIris });
    observeWindow(slower, 0.01);
    await until(() => slower.open, "the second lane opened");
    for (let i = 0; i < inlineThresholds.window - 1; i++) await slower.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(slower.open, true);
    await slower.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(slower.open, false);
    await lane.close();
  });

  it("rejects a waiting request whose signal fires with the signal's reason, and still answers the one running", async () => {
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, loadRuntime: loadIris });
    observeWindow(lane, 0.01);
    await until(() => lane.open, "the lane opened");
    const body = JSON.stringify([setosaRow]);
    const running = lane.invoke(request(body), AbortSignal.timeout(5_000));
    const controller = new AbortController();
    const waiting = lane.invoke(request(body), controller.signal);
    const reason = new Error("client gone");
    controller.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    assert.ok(bodyText(await running).length > 0);
    await lane.close();
  });

  it("releases its copy of the model when closed", async () => {
    let runtime: ModelRuntime | undefined;
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, loadRuntime: async () => (runtime = await loadIris()) });
    observeWindow(lane, 0.01);
    await until(() => lane.open, "the lane opened");
    assert.notEqual(runtime?.valueOf("model"), undefined);
    await lane.close();
    assert.equal(runtime?.valueOf("model"), undefined);
    assert.equal(lane.open, false);
  });
});

describe("a served tiny model", () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  async function answer(body: string): Promise<{ status: number; contentType: string | null; text: string }> {
    const response = await invoke(server, body, { "Content-Type": "application/json", Accept: "application/json" });
    return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
  }

  it("moves to the HTTP thread after its first requests, with the same answers and error bodies as from its worker", async () => {
    const plane = server.plane as SingleModel;
    const good = JSON.stringify([setosaRow]);
    const bad = JSON.stringify([[1, 2]]);
    assert.equal(plane.runsInline, false);
    const goodFromWorker = await answer(good);
    const badFromWorker = await answer(bad);
    assert.equal(badFromWorker.status, 400);
    for (let sent = 0; !plane.runsInline; sent++) {
      if (sent > 50 * inlineThresholds.window) assert.fail("the lane never opened");
      await answer(good);
    }
    assert.deepEqual(await answer(good), goodFromWorker);
    assert.deepEqual(await answer(bad), badFromWorker);
  });
});

describe("BYOC_INLINE_TINY_MODELS=false", () => {
  it("keeps every request on the workers", async () => {
    const server = await startTestServer({ inlineTinyModels: false });
    try {
      for (let i = 0; i < 2 * inlineThresholds.window; i++) await invoke(server, JSON.stringify([setosaRow]), { "Content-Type": "application/json" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((server.plane as SingleModel).runsInline, false);
    } finally {
      await server.close();
    }
  });
});
