import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fromCreateTransformJob } from "../../src/batch/create-transform-job.js";
import { formatProgress, JobProgress, showProgress } from "../../src/batch/progress.js";
import { Semaphore } from "../../src/batch/semaphore.js";

describe("the progress line", () => {
  test("shows the bytes read as a bar, then records, files and the rate on the injected clock", () => {
    let now = 1_000;
    const progress = new JobProgress(() => now);
    progress.started({ files: 4, skipped: 1, bytes: 1000 });
    progress.bytesRead(500);
    progress.batchDone(30_000);
    progress.fileDone();
    progress.fileFailed("x", "failed", 10);
    now += 2_000;
    assert.equal(formatProgress(progress.snapshot()), "[############------------]  50% | 30,000 records | files 3/4 (1 already done, 1 failed) | 15,000 records/s");
    assert.deepEqual(progress.snapshot().recordsFailed, 10);
  });

  test("is full when every file was done already, and empty before the job starts", () => {
    const done = new JobProgress(() => 0);
    done.started({ files: 2, skipped: 2, bytes: 0 });
    assert.equal(formatProgress(done.snapshot()), "[########################] 100% | 0 records | files 2/2 (2 already done) | 0 records/s");
    assert.equal(formatProgress(new JobProgress(() => 5).snapshot()), "[------------------------]   0% | 0 records | files 0/0 | 0 records/s");
  });

  test("is redrawn in place on a terminal, notes on lines of their own; elsewhere it prints plain lines", () => {
    const written: string[] = [];
    const progress = new JobProgress(() => 0);
    const tty = showProgress({ isTTY: true, write: (text) => written.push(text) }, progress, { intervalMs: 60_000 });
    tty.note("retrying: a.csv");
    tty.stop();
    assert.deepEqual(written, ["\r\x1b[Kretrying: a.csv\n", `\r\x1b[K${formatProgress(progress.snapshot())}`, `\r\x1b[K${formatProgress(progress.snapshot())}`, "\n"]);
    const plain: string[] = [];
    const log = showProgress({ write: (text) => plain.push(text) }, progress, { plainIntervalMs: 60_000 });
    log.note("failed: b.csv");
    log.stop();
    assert.deepEqual(plain, ["failed: b.csv\n", `${formatProgress(progress.snapshot())}\n`]);
  });
});

describe("the permits of MaxConcurrentTransforms", () => {
  test("are granted in arrival order and each release lets the next waiter in", async () => {
    const permits = new Semaphore(1);
    const signal = new AbortController().signal;
    const order: string[] = [];
    const first = await permits.acquire(signal);
    const second = permits.acquire(signal).then((release) => (order.push("second"), release));
    const third = permits.acquire(signal).then((release) => (order.push("third"), release));
    first();
    first();
    (await second)();
    (await third)();
    assert.deepEqual(order, ["second", "third"]);
    const again = await permits.acquire(signal);
    again();
  });

  test("a waiter whose signal fires leaves the queue with the signal's reason", async () => {
    const permits = new Semaphore(1);
    const held = await permits.acquire(new AbortController().signal);
    const abort = new AbortController();
    const waiting = permits.acquire(abort.signal);
    const next = permits.acquire(new AbortController().signal);
    abort.abort(new Error("stop"));
    await assert.rejects(waiting, /stop/);
    held();
    (await next)();
    await assert.rejects(permits.acquire(AbortSignal.abort(new Error("already"))), /already/);
  });
});

describe("a CreateTransformJob request", () => {
  test("maps to a job request, enumerations in any letter case, MaxConcurrentTransforms 0 left to the container", () => {
    const { request, environment } = fromCreateTransformJob({
      BatchStrategy: "multirecord",
      MaxPayloadInMB: 20,
      MaxConcurrentTransforms: 0,
      Environment: { A: "1" },
      DataProcessing: { InputFilter: "$[1:]", OutputFilter: "$[0,-1]", JoinSource: "Input" },
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "ManifestFile", S3Uri: "s3://b/m" } }, ContentType: "text/csv", SplitType: "LINE", CompressionType: "Gzip" },
      TransformOutput: { S3OutputPath: "s3://b/out", Accept: "text/csv", AssembleWith: "Line" },
      ModelClientConfig: { InvocationsTimeoutInSeconds: 120, InvocationsMaxRetries: 0 },
    });
    assert.deepEqual(environment, { A: "1" });
    assert.deepEqual(request, {
      input: { dataType: "ManifestFile", uri: "s3://b/m" },
      outputPath: "s3://b/out",
      contentType: "text/csv",
      accept: "text/csv",
      splitType: "Line",
      compressionType: "Gzip",
      batchStrategy: "MultiRecord",
      maxPayloadInMb: 20,
      maxConcurrentTransforms: undefined,
      assembleWith: "Line",
      inputFilter: "$[1:]",
      outputFilter: "$[0,-1]",
      joinSource: "Input",
      invocationTimeoutMs: 120_000,
      maxRetries: 0,
    });
    assert.equal(fromCreateTransformJob({}).request.input, undefined);
  });

  test("with wrong fields is refused, each named", () => {
    assert.throws(() => fromCreateTransformJob([]), /is a JSON object/);
    assert.throws(
      () => fromCreateTransformJob({ BatchStrategy: "Batch", MaxPayloadInMB: "6", TransformInput: { SplitType: "TFRecord", ContentType: 7 }, Environment: { A: 1 } }),
      (error: unknown) =>
        error instanceof Error &&
        /BatchStrategy must be one of SingleRecord, MultiRecord, not "Batch"/.test(error.message) &&
        /MaxPayloadInMB must be a whole number, not "6"/.test(error.message) &&
        /TransformInput.SplitType must be one of None, Line, RecordIO, not "TFRecord"/.test(error.message) &&
        /TransformInput.ContentType must be a string, not 7/.test(error.message) &&
        /Environment must map names to strings/.test(error.message),
    );
  });
});
