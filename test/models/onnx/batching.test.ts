import assert from "node:assert/strict";
import { after, test } from "node:test";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { PredictNotes } from "../../../src/models/model.js";
import { batchAxisOf, OnnxBatcher, rowsAreIndependent, type BatchingSettings } from "../../../src/models/onnx/batcher.js";
import { captureLog } from "../../helpers/capture-log.js";
import { buildIdentityModel, buildModel } from "../../helpers/onnx-models.js";
import { irisModelDir } from "../../helpers/server.js";

const { log } = captureLog();
const sessions: InferenceSession[] = [];
after(() => Promise.all(sessions.map((session) => session.release())));

async function open(model: string | Uint8Array): Promise<InferenceSession> {
  const session = typeof model === "string" ? await InferenceSession.create(model) : await InferenceSession.create(model);
  sessions.push(session);
  return session;
}

/** The session with its runs counted: what the batcher merged is what reached `run`. */
function counted(session: InferenceSession): { session: InferenceSession; runs: number[] } {
  const runs: number[] = [];
  const counting = Object.create(session) as InferenceSession;
  counting.run = ((feeds: Record<string, Tensor>) => {
    runs.push((Object.values(feeds)[0] as Tensor).dims[0] as number);
    return session.run(feeds);
  });
  return { session: counting, runs };
}

const irisRow = (seed: number): Tensor => new Tensor("float32", Float32Array.from([5 + seed / 10, 3.5 - seed / 20, 1.4 + seed / 7, 0.2 + seed / 30]), [1, 4]);
const settings = (maxBatchSize: number): BatchingSettings => ({ maxBatchSize, maxDelayMs: 0 });

function bytes(tensor: Tensor): Buffer {
  const data = tensor.data as Float32Array;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// A table lookup: indices [batch, 1] into a 4 x 2 table. An index past the table fails the run.
const lookupModel = buildModel({
  inputs: [{ name: "indices", dtype: "int64", shape: ["batch", 1] }],
  outputs: [{ name: "rows", dtype: "float32", shape: ["batch", 1, 2] }],
  nodes: [{ opType: "Gather", inputs: ["table", "indices"], outputs: ["rows"] }],
  floatInitializers: [{ name: "table", dims: [4, 2], values: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) }],
});

test("requests waiting together run as one merged run, and each gets exactly the bytes it gets alone", async () => {
  const iris = await open(`${irisModelDir}/iris.onnx`);
  const alone = await Promise.all(Array.from({ length: 10 }, (_, seed) => iris.run({ features: irisRow(seed) })));
  const { session, runs } = counted(iris);
  const batcher = new OnnxBatcher(session, settings(32), log);
  const together = await Promise.all(Array.from({ length: 10 }, (_, seed) => batcher.run({ features: irisRow(seed) })));
  assert.deepEqual(runs, [10], "one run of 10 rows");
  together.forEach((outputs, index) => {
    for (const name of iris.outputNames) {
      assert.deepEqual((outputs[name] as Tensor).dims, [1, 3]);
      assert.ok(bytes(outputs[name] as Tensor).equals(bytes((alone[index] as InferenceSession.ReturnType)[name] as Tensor)), `request ${index}, output ${name}`);
    }
  });
});

test("each request's own rows count towards the batch size, and a request is never split", async () => {
  const { session, runs } = counted(await open(`${irisModelDir}/iris.onnx`));
  const batcher = new OnnxBatcher(session, settings(8), log);
  const threeRows = (): Tensor => new Tensor("float32", new Float32Array(12).fill(1), [3, 4]);
  const answers = await Promise.all([batcher.run({ features: threeRows() }), batcher.run({ features: threeRows() }), batcher.run({ features: threeRows() })]);
  assert.deepEqual(runs, [6, 3]);
  for (const outputs of answers) assert.deepEqual((Object.values(outputs)[0] as Tensor).dims, [3, 3]);
});

test("each run is noted once, on its first request, with its rows and requests; a request too big to wait runs alone and notes itself", async () => {
  const { session, runs } = counted(await open(`${irisModelDir}/iris.onnx`));
  const batcher = new OnnxBatcher(session, settings(8), log);
  const rows = (count: number): Tensor => new Tensor("float32", new Float32Array(count * 4).fill(1), [count, 4]);
  const notes = Array.from({ length: 5 }, (): PredictNotes => ({ stageTimes: {}, batchRun: undefined }));
  await Promise.all([
    batcher.run({ features: rows(3) }, undefined, notes[0]),
    batcher.run({ features: rows(3) }, undefined, notes[1]),
    batcher.run({ features: rows(3) }, undefined, notes[2]),
    batcher.run({ features: rows(8) }, undefined, notes[3]),
  ]);
  await batcher.run({ features: rows(1) }, undefined, notes[4]);
  assert.deepEqual(runs, [8, 6, 3, 1]);
  assert.deepEqual(
    notes.map((note) => note.batchRun),
    [{ rows: 6, requests: 2 }, undefined, { rows: 3, requests: 1 }, { rows: 8, requests: 1 }, { rows: 1, requests: 1 }],
  );
});

test("when a merged run fails, each request's own run is noted on it, and a failed run on none", async () => {
  const batcher = new OnnxBatcher(await open(lookupModel), settings(32), log);
  const notes = Array.from({ length: 3 }, (): PredictNotes => ({ stageTimes: {}, batchRun: undefined }));
  const lookup = (index: bigint, note: PredictNotes) => batcher.run({ indices: new Tensor("int64", BigInt64Array.from([index]), [1, 1]) }, undefined, note);
  await Promise.allSettled([lookup(1n, notes[0] as PredictNotes), lookup(9n, notes[1] as PredictNotes), lookup(3n, notes[2] as PredictNotes)]);
  assert.deepEqual(
    notes.map((note) => note.batchRun),
    [{ rows: 1, requests: 1 }, undefined, { rows: 1, requests: 1 }],
  );
});

test("only compatible requests merge: other non-batch dimensions run apart", async () => {
  const { session, runs } = counted(await open(buildIdentityModel("float32", ["batch", "width"])));
  const batcher = new OnnxBatcher(session, settings(32), log);
  const [narrow, wide, narrowToo] = await Promise.all([
    batcher.run({ x: new Tensor("float32", Float32Array.from([1, 2]), [1, 2]) }),
    batcher.run({ x: new Tensor("float32", Float32Array.from([1, 2, 3]), [1, 3]) }),
    batcher.run({ x: new Tensor("float32", Float32Array.from([4, 5]), [1, 2]) }),
  ]);
  assert.deepEqual(runs.sort(), [1, 2]);
  assert.deepEqual([...((narrow?.["y"] as Tensor).data as Float32Array)], [1, 2]);
  assert.deepEqual([...((wide?.["y"] as Tensor).data as Float32Array)], [1, 2, 3]);
  assert.deepEqual([...((narrowToo?.["y"] as Tensor).data as Float32Array)], [4, 5]);
});

test("when a merged run fails, its requests run one by one: only the bad request fails", async () => {
  const batcher = new OnnxBatcher(await open(lookupModel), settings(32), log);
  const lookup = (index: bigint) => batcher.run({ indices: new Tensor("int64", BigInt64Array.from([index]), [1, 1]) });
  const [first, bad, last] = await Promise.allSettled([lookup(1n), lookup(9n), lookup(3n)]);
  assert.equal(first.status, "fulfilled");
  assert.deepEqual([...(((first).value["rows"] as Tensor).data as Float32Array)], [2, 3]);
  assert.equal(bad.status, "rejected");
  assert.equal(last.status, "fulfilled");
  assert.deepEqual([...(((last).value["rows"] as Tensor).data as Float32Array)], [6, 7]);
});

test("a request whose signal fired before the run is dropped with its reason; the others run", async () => {
  const { session, runs } = counted(await open(`${irisModelDir}/iris.onnx`));
  const batcher = new OnnxBatcher(session, settings(32), log);
  const expired = new AbortController();
  expired.abort(new Error("time limit passed"));
  const results = await Promise.allSettled([batcher.run({ features: irisRow(1) }), batcher.run({ features: irisRow(2) }, expired.signal), batcher.run({ features: irisRow(3) })]);
  assert.deepEqual(results.map((result) => result.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /time limit passed/);
  assert.deepEqual(runs, [2]);
});

test("a model is batched only when every input and output starts with the same variable dimension", async () => {
  assert.equal(batchAxisOf(await open(`${irisModelDir}/iris.onnx`)), "batch");
  assert.equal(batchAxisOf(await open(buildIdentityModel("float32", [1, 4]))), undefined, "a fixed first dimension");
  assert.equal(batchAxisOf(await open(buildIdentityModel("float32", ["batch", 4]))), "batch");
  assert.equal(batchAxisOf(await open(buildIdentityModel("string", ["batch", 2]))), undefined, "strings are not merged");
});

test("rows that interact (a softmax across the first dimension) fail the independence check; a row-wise model passes it", async () => {
  const coupled = await open(
    buildModel({
      inputs: [{ name: "x", dtype: "float32", shape: ["batch", 3] }],
      outputs: [{ name: "y", dtype: "float32", shape: ["batch", 3] }],
      nodes: [{ opType: "Softmax", inputs: ["x"], outputs: ["y"], attributes: { axis: 0 } }],
    }),
  );
  assert.equal(batchAxisOf(coupled), "batch");
  assert.equal(await rowsAreIndependent(coupled), false);
  assert.equal(await rowsAreIndependent(await open(`${irisModelDir}/iris.onnx`)), true);
  assert.equal(await rowsAreIndependent(await open(lookupModel)), true);
});
