import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeRecordIO, encodeRecordIO } from "../../src/batch/recordio.js";
import { loadConfig } from "../../src/config/server-config.js";
import { ConfigurationError } from "../../src/errors.js";
import { suggestExecutionParameters } from "../../src/protocols/sagemaker/execution-parameters.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { buildIdentityModel, writeModel } from "../helpers/onnx-models.js";
import { invoke, irisModelDir, startTestServer } from "../helpers/server.js";

const recordsFixture = fileURLToPath(new URL("./fixtures/batch-records.ts", import.meta.url));
const slowLoadFixture = fileURLToPath(new URL("../fixtures/handlers/slow-load.ts", import.meta.url));
const MiB = 1024 * 1024;
const batchEnv = { SAGEMAKER_BATCH: "true" };
const irisRows = "5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3\n";

/** A CSV body of one line of `bytes` bytes (newline included). */
const oneLine = (bytes: number): Buffer => Buffer.concat([Buffer.alloc(bytes - 1, "x"), Buffer.from("\n")]);

/** A multipart/form-data body with one file of `bytes` bytes. */
function multipartBody(bytes: number): { body: Buffer; contentType: string } {
  const boundary = "batch-boundary";
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return { body: Buffer.concat([head, Buffer.alloc(bytes, 1), Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe("SAGEMAKER_MAX_PAYLOAD_IN_MB raises the body limit", () => {
  test("a 7 MiB body is refused with 413 by default, and accepted in a job with MaxPayloadInMB 8", async () => {
    const body = oneLine(7 * MiB);
    const plain = await startTestServer({ handlersPath: recordsFixture }, batchEnv);
    const job = await startTestServer({ handlersPath: recordsFixture }, { ...batchEnv, SAGEMAKER_MAX_PAYLOAD_IN_MB: "8" });
    try {
      const refused = await invoke(plain, body, { "content-type": "text/csv", accept: "text/csv" });
      assert.equal(refused.status, 413);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "PAYLOAD_TOO_LARGE");
      const accepted = await invoke(job, body, { "content-type": "text/csv", accept: "text/csv" });
      assert.equal(accepted.status, 200);
      assert.equal((await accepted.text()).length, 7 * MiB + "out:".length);
    } finally {
      await Promise.all([plain.close(), job.close()]);
    }
  });

  test("a body over the job's payload is still refused with 413", async () => {
    const job = await startTestServer({ handlersPath: recordsFixture }, { ...batchEnv, SAGEMAKER_MAX_PAYLOAD_IN_MB: "8" });
    try {
      const refused = await invoke(job, oneLine(8 * MiB + 1), { "content-type": "text/csv", accept: "text/csv" });
      assert.equal(refused.status, 413);
    } finally {
      await job.close();
    }
  });

  test("the multipart codec's file limit is raised too: a 7 MiB upload gets past the codec", async () => {
    const { body, contentType } = multipartBody(7 * MiB);
    // Without a job the body limit alone is raised (BYOC_MAX_PAYLOAD_BYTES): the codec refuses the file.
    const plain = await startTestServer({ maxPayloadBytes: 8 * MiB }, {});
    const job = await startTestServer({}, { SAGEMAKER_MAX_PAYLOAD_IN_MB: "8" });
    try {
      const refused = await invoke(plain, body, { "content-type": contentType });
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "MULTIPART_LIMIT");
      const decoded = await invoke(job, body, { "content-type": contentType });
      // The iris model cannot take a form; what matters is that the codec read the whole file.
      assert.notEqual(((await decoded.json()) as { error: { code: string } }).error.code, "MULTIPART_LIMIT");
      assert.equal(job.config.multipart.maxFileBytes, 8 * MiB);
    } finally {
      await Promise.all([plain.close(), job.close()]);
    }
  });

  test("the configuration keeps a larger explicit limit, and 0 (chunked bodies) raises it to the in-flight budget", () => {
    assert.equal(loadConfig({ SAGEMAKER_MAX_PAYLOAD_IN_MB: "20" }).maxPayloadBytes, 20 * MiB);
    assert.equal(loadConfig({ SAGEMAKER_MAX_PAYLOAD_IN_MB: "4" }).maxPayloadBytes, 6 * MiB);
    assert.equal(loadConfig({ SAGEMAKER_MAX_PAYLOAD_IN_MB: "20", BYOC_MAX_PAYLOAD_BYTES: String(50 * MiB) }).maxPayloadBytes, 50 * MiB);
    const chunked = loadConfig({ SAGEMAKER_MAX_PAYLOAD_IN_MB: "0", BYOC_MAX_IN_FLIGHT_BYTES: String(300 * MiB) });
    assert.equal(chunked.maxPayloadBytes, 300 * MiB);
    assert.equal(chunked.multipart.maxFileBytes, 300 * MiB);
    assert.equal(loadConfig({}).maxPayloadBytes, 6 * MiB);
  });

  test("the job's variables are read with SageMaker's spellings and checked", () => {
    const config = loadConfig({ SAGEMAKER_BATCH: "True", SAGEMAKER_BATCH_STRATEGY: "multi_record", SAGEMAKER_MAX_CONCURRENT_TRANSFORMS: "4", SAGEMAKER_MAX_PAYLOAD_IN_MB: "6" });
    assert.deepEqual([config.batch.enabled, config.batch.strategy, config.batch.maxConcurrentTransforms, config.batch.maxPayloadInMb], [true, "MULTI_RECORD", 4, 6]);
    assert.throws(() => loadConfig({ SAGEMAKER_MAX_PAYLOAD_IN_MB: "101" }), /SAGEMAKER_MAX_PAYLOAD_IN_MB="101" must be a whole number from 0 to 100/);
    assert.throws(() => loadConfig({ SAGEMAKER_BATCH_STRATEGY: "BATCHED" }), /SAGEMAKER_BATCH_STRATEGY="BATCHED" must be one of SINGLE_RECORD, MULTI_RECORD/);
  });
});

describe("GET /execution-parameters", () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer({ workers: 1 });
  });
  after(() => server.close());

  test("answers the parameters that suit the iris model: one per worker, MULTI_RECORD, 6 MB", async () => {
    const response = await fetch(`${server.url}/execution-parameters`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await response.json(), { MaxConcurrentTransforms: 1, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 6 });
    assert.equal((await fetch(`${server.url}/execution-parameters`, { method: "HEAD" })).status, 200);
  });

  test("answers 405 with Allow for another method", async () => {
    const response = await fetch(`${server.url}/execution-parameters`, { method: "POST", body: "{}" });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "METHOD_NOT_ALLOWED");
  });

  test("suggests SINGLE_RECORD for a model whose input takes exactly one row", async () => {
    const dir = await mkdtemp(join(tmpdir(), "byoc-one-row-"));
    await writeModel(dir, "model.onnx", buildIdentityModel("float32", [1, 4]));
    const oneRow = await startTestServer({ modelDir: dir, workers: 1 });
    try {
      assert.deepEqual(await (await fetch(`${oneRow.url}/execution-parameters`)).json(), { MaxConcurrentTransforms: 1, BatchStrategy: "SINGLE_RECORD", MaxPayloadInMB: 6 });
    } finally {
      await oneRow.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("answers the user's BYOC_EXECUTION_* settings instead", async () => {
    const overridden = await startTestServer(
      { workers: 1 },
      { BYOC_EXECUTION_MAX_CONCURRENT_TRANSFORMS: "4", BYOC_EXECUTION_BATCH_STRATEGY: "single_record", BYOC_EXECUTION_MAX_PAYLOAD_IN_MB: "20" },
    );
    try {
      assert.deepEqual(await (await fetch(`${overridden.url}/execution-parameters`)).json(), { MaxConcurrentTransforms: 4, BatchStrategy: "SINGLE_RECORD", MaxPayloadInMB: 20 });
    } finally {
      await overridden.close();
    }
  });

  test("answers 503 while the model loads, as /ping does", async () => {
    const loading = await startServer({ port: 0, host: "127.0.0.1", modelDir: irisModelDir, handlersPath: slowLoadFixture, workers: 1, logLevel: "silent" }, {});
    try {
      const early = await fetch(`${loading.url}/execution-parameters`);
      assert.equal(early.status, 503);
      assert.equal(((await early.json()) as { error: { code: string } }).error.code, "MODEL_NOT_READY");
      await loading.loaded;
      assert.equal((await fetch(`${loading.url}/execution-parameters`)).status, 200);
    } finally {
      await loading.close();
    }
  });

  test("keeps concurrency × payload within SageMaker's 100 MB and the payload within the body limit", () => {
    const suggest = (workers: number, maxPayloadBytes: number, overrides: { maxPayloadInMb?: number } = {}) =>
      suggestExecutionParameters({ overrides: { maxConcurrentTransforms: undefined, batchStrategy: undefined, maxPayloadInMb: undefined, ...overrides }, workers, maxPayloadBytes, signature: () => undefined });
    assert.deepEqual(suggest(20, 6 * MiB), { MaxConcurrentTransforms: 20, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 5 });
    assert.deepEqual(suggest(1024, 6 * MiB), { MaxConcurrentTransforms: 100, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 1 });
    assert.deepEqual(suggest(2, 2 * MiB), { MaxConcurrentTransforms: 2, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 2 });
    assert.deepEqual(suggest(2, 1000), { MaxConcurrentTransforms: 2, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 1 });
    assert.deepEqual(suggest(8, 6 * MiB, { maxPayloadInMb: 40 }), { MaxConcurrentTransforms: 2, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 40 });
  });

  test("refuses settings whose concurrency × payload passes 100 MB", () => {
    assert.throws(
      () => loadConfig({ BYOC_EXECUTION_MAX_CONCURRENT_TRANSFORMS: "20", BYOC_EXECUTION_MAX_PAYLOAD_IN_MB: "6" }),
      (error: unknown) => error instanceof ConfigurationError && /BYOC_EXECUTION_MAX_CONCURRENT_TRANSFORMS \(20\) × BYOC_EXECUTION_MAX_PAYLOAD_IN_MB \(6\) is 120/.test(error.message),
    );
  });
});

describe("in a batch job (SAGEMAKER_BATCH=true)", () => {
  let job: RunningServer;
  let fixtureJob: RunningServer;
  let fixturePlain: RunningServer;
  before(async () => {
    [job, fixtureJob, fixturePlain] = await Promise.all([
      startTestServer({}, batchEnv),
      startTestServer({ handlersPath: recordsFixture }, batchEnv),
      startTestServer({ handlersPath: recordsFixture }, {}),
    ]);
  });
  after(() => Promise.all([job.close(), fixtureJob.close(), fixturePlain.close()]));

  test("a CSV request without Accept is answered in CSV, one line per record", async () => {
    const response = await invoke(job, irisRows, { "content-type": "text/csv" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/csv");
    const lines = (await response.text()).trim().split("\n");
    assert.equal(lines.length, 3);
    assert.ok(lines.every((line) => line.split(",").length === 3));
  });

  test("outside a job, a request without Accept gets the JSON default", async () => {
    const plain = await startTestServer({}, {});
    try {
      const response = await invoke(plain, irisRows, { "content-type": "text/csv" });
      assert.equal(response.headers.get("content-type"), "application/json");
    } finally {
      await plain.close();
    }
  });

  test("an answer with fewer records than the request is a 500 RECORD_COUNT_MISMATCH; outside a job it goes out as it is", async () => {
    const body = "a\ndrop\nc\n";
    const mismatch = await invoke(fixtureJob, body, { "content-type": "text/csv" });
    assert.equal(mismatch.status, 500);
    const error = ((await mismatch.json()) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "RECORD_COUNT_MISMATCH");
    assert.match(error.message, /^The answer holds 2 text\/csv records for 3 input records; batch transform needs one output record per input record, in order/);
    const unchecked = await invoke(fixturePlain, body, { "content-type": "text/csv", accept: "text/csv" });
    assert.equal(unchecked.status, 200);
    assert.equal(await unchecked.text(), "out:a\nout:c\n");
  });

  test("a streamed answer goes out as it comes, uncounted: it would have to be held whole to be counted", async () => {
    const response = await invoke(fixtureJob, "stream\ndrop\n", { "content-type": "text/csv" });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "out:stream\n");
  });

  test("JSON Lines requests without Accept are answered in JSON Lines, record for record", async () => {
    const response = await invoke(fixtureJob, '{"a":1}\n\n{"a":2}\n', { "content-type": "application/jsonlines" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/jsonlines");
    assert.equal(await response.text(), '{"out":{"a":1}}\n{"out":{"a":2}}\n');
  });

  test("a MULTI_RECORD RecordIO body (records framed) and a SINGLE_RECORD one (bare data) are answered in RecordIO", async () => {
    const multi = await invoke(fixtureJob, encodeRecordIO([Buffer.from("r1"), Buffer.from("r2")]), { "content-type": "application/x-recordio" });
    assert.equal(multi.status, 200);
    assert.equal(multi.headers.get("content-type"), "application/x-recordio");
    assert.deepEqual(
      decodeRecordIO(Buffer.from(await multi.arrayBuffer())).map((record) => record.data.toString()),
      ["out:r1", "out:r2"],
    );
    const single = await invoke(fixtureJob, "r3", { "content-type": "application/x-recordio" });
    assert.deepEqual(
      decodeRecordIO(Buffer.from(await single.arrayBuffer())).map((record) => record.data.toString()),
      ["out:r3"],
    );
  });

  test("a RecordIO answer with a missing record is a mismatch too; a broken RecordIO request is left to the codec", async () => {
    const mismatch = await invoke(fixtureJob, encodeRecordIO([Buffer.from("r1"), Buffer.from("drop")]), { "content-type": "application/x-recordio" });
    assert.equal(mismatch.status, 500);
    assert.match(((await mismatch.json()) as { error: { message: string } }).error.message, /holds 1 application\/x-recordio record for 2 input records/);
    const broken = await invoke(job, encodeRecordIO([Buffer.from("abcdef")]).subarray(0, 10), { "content-type": "application/x-recordio" });
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as { error: { code: string } }).error.code, "INVALID_RECORDIO");
  });

  test("answers of a type without record framing (JSON) are not counted; an explicit Accept is kept", async () => {
    const response = await invoke(fixtureJob, "a\nb\n", { "content-type": "text/csv", accept: "application/json" });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), ["out:a", "out:b"]);
    const json = await invoke(fixtureJob, '{"a":1}', { "content-type": "application/json" });
    assert.equal(json.headers.get("content-type"), "application/json");
  });
});
