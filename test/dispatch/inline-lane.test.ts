import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { InlineLane, inlineCandidate, inlineThresholds, type InlineCopy, type WorkerInvoke } from "../../src/dispatch/inline-lane.js";
import { inlineLaneFactory } from "../../src/dispatch/inline-lane-factory.js";
import { ModelRuntime } from "../../src/dispatch/model-runtime.js";
import type { SingleModel } from "../../src/dispatch/single-model.js";
import { WorkerPool } from "../../src/dispatch/worker-pool.js";
import type { ModelSource } from "../../src/models/model-source.js";
import type { InvocationRequest, InvocationResult } from "../../src/pipeline/inference-pipeline.js";
import type { RunningServer } from "../../src/server.js";
import { captureLog } from "../helpers/capture-log.js";
import { buildMatMulModel } from "../helpers/onnx-models.js";
import { invoke, irisModelDir, setosaRow, startTestServer } from "../helpers/server.js";
import { testRuntimeConfig } from "../helpers/runtime-config.js";

const silent = pino({ level: "silent" });
const runtimeConfig = testRuntimeConfig();
const irisSource: ModelSource = { name: "model", modelDir: irisModelDir, handlersFile: undefined };

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
  const workersIdle = (): boolean => pool.pendingFor("model") === 0;
  /** The iris model loaded on this thread, reported as running in `runMs`. */
  const irisCopy = (runMs = 0.01, loaded?: (runtime: ModelRuntime) => void) => async (): Promise<InlineCopy> => {
    const runtime = await loadIris();
    loaded?.(runtime);
    return { runtime, runMs };
  };
  const body = JSON.stringify([setosaRow]);

  before(async () => {
    pool = new WorkerPool({ size: 1, log: silent, recycleMs: 5_000, setup: { config: runtimeConfig, primeOnnxRuntime: false } });
    await pool.start();
    await pool.load(irisSource, "all");
  });
  after(() => pool.close(1_000));

  it("stays closed, and releases its copy, when the copy's runs took more than 0.1 ms", async () => {
    let runtime: ModelRuntime | undefined;
    const { log, records } = captureLog();
    const lane = new InlineLane({ model: "model", log, toWorkers, workersIdle, loadCopy: irisCopy(inlineThresholds.openAtRunMs * 1.5, (loaded) => (runtime = loaded)) });
    await lane.start();
    assert.equal(lane.open, false);
    assert.equal(lane.takes(request(body), 1), false);
    assert.equal(runtime?.valueOf("model"), undefined);
    assert.ok(records.some((record) => record.level === "info" && record.msg.includes("too long for the HTTP thread")));
  });

  it("stays closed, and logs why, when its copy fails to load", async () => {
    const { log, records } = captureLog();
    const lane = new InlineLane({ model: "model", log, toWorkers, workersIdle, loadCopy: () => Promise.reject(new Error("no such file")) });
    await lane.start();
    assert.equal(lane.open, false);
    assert.ok(records.some((record) => record.level === "warn" && record.msg.includes("stays on the workers")));
  });

  it("opens when the copy's runs took at most 0.1 ms, taking bodies up to 8 KiB and leaving larger ones to the workers", async () => {
    const { log, records } = captureLog();
    const lane = new InlineLane({ model: "model", log, toWorkers, workersIdle, loadCopy: irisCopy(inlineThresholds.openAtRunMs) });
    await lane.start();
    assert.equal(lane.open, true);
    assert.equal(lane.takes(request(Buffer.alloc(inlineThresholds.maxBodyBytes)), 1), true);
    assert.equal(lane.takes(request(Buffer.alloc(inlineThresholds.maxBodyBytes + 1)), 1), false);
    assert.ok(records.some((record) => record.level === "info" && record.msg.includes("now run on the HTTP thread")));
    await lane.close();
  });

  it("answers with the same bytes and content type as a worker", async () => {
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, workersIdle, loadCopy: irisCopy() });
    await lane.start();
    const rows = JSON.stringify([setosaRow, [6.7, 3.0, 5.2, 2.3]]);
    const fromWorker = await pool.invoke("model", request(rows), AbortSignal.timeout(5_000));
    const inline = await lane.invoke(request(rows), AbortSignal.timeout(5_000));
    assert.equal(bodyText(inline), bodyText(fromWorker));
    assert.equal(inline.contentType, fromWorker.contentType);
    await lane.close();
  });

  it("rejects a bad request with the error a worker gives: same name, message, status and code", async () => {
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, workersIdle, loadCopy: irisCopy() });
    await lane.start();
    const wrongShape = JSON.stringify([[1, 2]]);
    const fromWorker = await failure(pool.invoke("model", request(wrongShape), AbortSignal.timeout(5_000)));
    const inline = await failure(lane.invoke(request(wrongShape), AbortSignal.timeout(5_000)));
    assert.deepEqual(
      { name: inline.name, message: inline.message, statusCode: inline.statusCode, code: inline.code },
      { name: fromWorker.name, message: fromWorker.message, statusCode: fromWorker.statusCode, code: fromWorker.code },
    );
    await lane.close();
  });

  it("closes for good at the third request of a window that holds the thread longer than 20 ms, releasing its copy and sending later requests to the workers", async () => {
    let clock = 0;
    let runtime: ModelRuntime | undefined;
    const { log, records } = captureLog();
    const lane = new InlineLane({
      model: "model",
      log,
      toWorkers,
      workersIdle,
      now: () => (clock += inlineThresholds.slowRequestMs + 1),
      loadCopy: irisCopy(0.01, (loaded) => (runtime = loaded)),
    });
    await lane.start();
    const first = await lane.invoke(request(body), AbortSignal.timeout(5_000));
    await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(lane.open, true);
    await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(lane.open, false);
    assert.equal(lane.takes(request(body), 1), false);
    assert.ok(records.some((record) => record.level === "warn" && record.msg.includes("held the HTTP thread too long") && record.slowRequests === 3));
    await until(() => runtime?.valueOf("model") === undefined, "the lane released its copy");
    const callsBefore = workerCalls;
    const afterClosing = await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(workerCalls, callsBefore + 1);
    assert.equal(bodyText(afterClosing), bodyText(first));
  });

  it("closes for good when the median of a window of its requests is above 0.5 ms", async () => {
    let clock = 0;
    // Each request reads the clock twice, so it measures one step: 0.4 ms stays open...
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, workersIdle, now: () => (clock += 0.4), loadCopy: irisCopy() });
    await lane.start();
    for (let i = 0; i < inlineThresholds.window; i++) await lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(lane.open, true);
    await lane.close();
    // ...and 0.6 ms closes it at the end of the window.
    const slower = new InlineLane({ model: "model", log: silent, toWorkers, workersIdle, now: () => (clock += 0.6), loadCopy: irisCopy() });
    await slower.start();
    for (let i = 0; i < inlineThresholds.window - 1; i++) await slower.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(slower.open, true);
    await slower.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(slower.open, false);
  });

  it("takes no request while it runs one, while the HTTP layer has others, or while the workers have one of the model; one that reaches it busy goes to the workers", async () => {
    let workersBusy = false;
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, workersIdle: () => !workersBusy, loadCopy: irisCopy() });
    await lane.start();
    assert.equal(lane.takes(request(body), 1), true);
    const running = lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(lane.takes(request(body), 1), false);
    const callsBefore = workerCalls;
    const sentOn = lane.invoke(request(body), AbortSignal.timeout(5_000));
    assert.equal(bodyText(await sentOn), bodyText(await running));
    assert.equal(workerCalls, callsBefore + 1);
    assert.equal(lane.takes(request(body), 1), true);
    assert.equal(lane.takes(request(body), 2), false);
    workersBusy = true;
    assert.equal(lane.takes(request(body), 1), false);
    await lane.close();
  });

  it("rejects with the signal's reason when it fires during a run, and takes the next request once the run ends", async () => {
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, workersIdle, loadCopy: irisCopy() });
    await lane.start();
    const controller = new AbortController();
    const running = lane.invoke(request(body), controller.signal);
    const reason = new Error("client gone");
    controller.abort(reason);
    await assert.rejects(running, (error) => error === reason);
    await until(() => lane.takes(request(body), 1), "the run ended");
    assert.ok(bodyText(await lane.invoke(request(body), AbortSignal.timeout(5_000))).length > 0);
    await lane.close();
  });

  it("releases its copy of the model when closed", async () => {
    let runtime: ModelRuntime | undefined;
    const lane = new InlineLane({ model: "model", log: silent, toWorkers, workersIdle, loadCopy: irisCopy(0.01, (loaded) => (runtime = loaded)) });
    await lane.start();
    assert.notEqual(runtime?.valueOf("model"), undefined);
    await lane.close();
    assert.equal(runtime?.valueOf("model"), undefined);
    assert.equal(lane.open, false);
  });
});

describe("inlineLaneFactory", () => {
  const report = { loadMs: 3, memoryBytes: 1_000_000, signature: undefined, batchSize: 1 };
  let dir: string;
  let pool: WorkerPool;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inline-lane-"));
    await writeFile(join(dir, "matmul.onnx"), buildMatMulModel(2048));
    pool = new WorkerPool({ size: 1, log: silent, recycleMs: 5_000, setup: { config: runtimeConfig, primeOnnxRuntime: false } });
    await pool.start();
  });
  after(async () => {
    await pool.close(1_000);
    await rm(dir, { recursive: true, force: true });
  });

  it("opens a lane for the iris model, whose runs it times at well under 0.1 ms", async () => {
    const lane = inlineLaneFactory(pool, runtimeConfig, silent)(irisSource, report);
    assert.ok(lane !== undefined);
    await lane.start();
    assert.equal(lane.open, true);
    await lane.close();
  });

  it("keeps a 2048×2048 matrix product on the workers: its runs take milliseconds", async () => {
    const lane = inlineLaneFactory(pool, runtimeConfig, silent)({ name: "model", modelDir: dir, handlersFile: undefined }, report);
    assert.ok(lane !== undefined);
    await lane.start();
    assert.equal(lane.open, false);
  });

  it("gives no lane to a model with a handlers file", () => {
    assert.equal(inlineLaneFactory(pool, runtimeConfig, silent)({ ...irisSource, handlersFile: "/opt/ml/model/code/inference.js" }, report), undefined);
  });
});

describe("a served tiny model", () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  async function answer(target: RunningServer, body: string): Promise<{ status: number; contentType: string | null; text: string }> {
    const response = await invoke(target, body, { "Content-Type": "application/json", Accept: "application/json" });
    const text = await response.text();
    // Error bodies name the request's own inference id; the rest must match.
    return { status: response.status, contentType: response.headers.get("content-type"), text: text.replace(/"inferenceId":"[^"]*"/, '"inferenceId":"…"') };
  }

  it("opens its inline lane once loaded, and answers (inline when idle) with the same bodies and errors as the same server without the lane", async () => {
    const plain = await startTestServer({ inlineTinyModels: false });
    try {
      assert.equal((server.plane as SingleModel).runsInline, true);
      assert.equal((plain.plane as SingleModel).runsInline, false);
      for (const body of [JSON.stringify([setosaRow]), JSON.stringify([[1, 2]]), "not json"]) {
        const inline = await answer(server, body);
        assert.deepEqual(inline, await answer(plain, body));
        assert.ok(inline.status === 200 || inline.status === 400, `${body} answered ${inline.status}`);
      }
    } finally {
      await plain.close();
    }
  });
});
