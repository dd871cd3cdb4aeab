import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { RunningServer } from "../../src/server.js";
import { listenToFixtures, type FixtureEvents } from "../helpers/fixture-events.js";
import { startTestServer } from "../helpers/server.js";
import { batchesSince, cleanUp, observe, readTree, recordsFixture, runJob, tempDir, writeFiles } from "./helpers.js";

let server: RunningServer;
let fixtures: FixtureEvents;

before(async () => {
  fixtures = listenToFixtures();
  server = await startTestServer({ handlersPath: recordsFixture, workers: 1 }, { SAGEMAKER_BATCH: "true" });
});
after(async () => {
  fixtures.close();
  await server.close();
  await cleanUp();
});

const csvJob = (input: string, output: string) => ({ input: { dataType: "S3Prefix" as const, uri: input }, outputPath: output, contentType: "text/csv", splitType: "Line" as const });

describe("resuming", () => {
  test("interrupted in the middle of a file, a job keeps the finished outputs and drops the partial one; run again, it does only the rest", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "1.csv": "a\nb\n", "2.csv": "c\nhold\nd\n", "3.csv": "e\n" });
    const interrupt = new AbortController();
    const from = fixtures.events.length;
    const running = runJob({ ...csvJob(input, output), batchStrategy: "SingleRecord" }, server, { signal: interrupt.signal });
    await fixtures.next("the held record", (event) => event.event === "holding" && fixtures.events.indexOf(event) >= from);
    interrupt.abort(new Error("interrupted by the test"));
    const interrupted = await running;
    assert.equal(interrupted.interrupted, true);
    assert.deepEqual(interrupted.files, { total: 3, transformed: 1, skipped: 0, failed: 0 });
    assert.deepEqual(await readTree(output), { "1.csv.out": "out:a\nout:b\n" });

    const again = fixtures.events.length;
    const release = fixtures.next("the held record again", (event) => event.event === "holding" && fixtures.events.indexOf(event) >= again).then((event) => fixtures.release(event.inferenceId as string));
    const finished = await runJob({ ...csvJob(input, output), batchStrategy: "SingleRecord" }, server);
    await release;
    assert.deepEqual(finished.files, { total: 3, transformed: 2, skipped: 1, failed: 0 });
    assert.deepEqual(
      batchesSince(fixtures, again).map((event) => event.first),
      ["c", "hold", "d", "e"],
    );
    assert.deepEqual(await readTree(output), { "1.csv.out": "out:a\nout:b\n", "2.csv.out": "out:c\nout:hold\nout:d\n", "3.csv.out": "out:e\n" });
  });

  test("resume: false transforms every input again", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "1.csv": "a\n" });
    await writeFiles(output, { "1.csv.out": "stale\n" });
    const summary = await runJob(csvJob(input, output), server, { resume: false });
    assert.equal(summary.files.transformed, 1);
    assert.deepEqual(await readTree(output), { "1.csv.out": "out:a\n" });
  });

  test("an output folder inside the input folder is refused: the next run would read its outputs as inputs", async () => {
    const input = await tempDir();
    await writeFiles(input, { "1.csv": "a\n" });
    await assert.rejects(runJob(csvJob(input, join(input, "out")), server), /is inside the input folder/);
    await assert.rejects(runJob(csvJob(input, input), server), /is inside the input folder/);
  });
});

describe("failed records", () => {
  test("a request the container refuses (400) fails its file at once, without retries; the other files get their output", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "bad.csv": "a\nb\nstatus=400\nc\n", "good.csv": "x\ny\n" });
    const observed = observe();
    const from = fixtures.events.length;
    const summary = await runJob({ ...csvJob(input, output), batchStrategy: "MultiRecord", maxPayloadInMb: 1 }, server, { observer: observed });
    assert.deepEqual(summary.files, { total: 2, transformed: 1, skipped: 0, failed: 1 });
    assert.deepEqual(summary.records, { transformed: 2, failed: 4 });
    const message = `records 1-4: the container answered 400: ASKED: record asked for 400; no ${join(output, "bad.csv.out")} was written`;
    assert.deepEqual(summary.failures, [{ file: join(input, "bad.csv"), message }]);
    assert.deepEqual(observed.failures, [`${join(input, "bad.csv")}: ${message}`]);
    assert.deepEqual(observed.retries, []);
    assert.equal(batchesSince(fixtures, from).filter((event) => event.first === "a").length, 1);
    assert.deepEqual(await readTree(output), { "good.csv.out": "out:x\nout:y\n" });
  });

  test("a request that fails with 503 is retried as SageMaker does, up to InvocationsMaxRetries", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "flaky.csv": "a\nflaky=once-more\nb\n" });
    const observed = observe();
    const summary = await runJob({ ...csvJob(input, output), maxRetries: 2 }, server, { observer: observed });
    assert.equal(summary.files.transformed, 1);
    assert.deepEqual(observed.retries, [
      `${join(input, "flaky.csv")}: records 1-3: the container answered 503: FLAKY: flaky once-more, failure 1; retry 1 of 2`,
      `${join(input, "flaky.csv")}: records 1-3: the container answered 503: FLAKY: flaky once-more, failure 2; retry 2 of 2`,
    ]);
    assert.deepEqual(await readTree(output), { "flaky.csv.out": "out:a\nout:flaky=once-more\nout:b\n" });
  });

  test("past its retries, a failing request fails the file with the last answer", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "flaky.csv": "flaky=not-enough\n" });
    const summary = await runJob({ ...csvJob(input, output), maxRetries: 1 }, server);
    assert.equal(summary.files.failed, 1);
    assert.match(summary.failures[0]?.message ?? "", /^records 1: the container answered 503: FLAKY: flaky not-enough, failure 2; no .* was written$/);
  });

  test("a request past InvocationsTimeoutInSeconds is abandoned and retried, then fails the file", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "slow.csv": "sleep=3000\n" });
    const observed = observe();
    const summary = await runJob({ ...csvJob(input, output), invocationTimeoutMs: 1000, maxRetries: 1 }, server, { observer: observed });
    assert.equal(summary.files.failed, 1);
    assert.match(summary.failures[0]?.message ?? "", /^records 1: no answer within 1 s; no/);
    assert.equal(observed.retries.length, 1);
  });

  test("a container that cannot be reached fails the files after the retries, naming the network error", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "1.csv": "a\n" });
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address() as AddressInfo;
    closed.close();
    const summary = await runJob({ ...csvJob(input, output), batchStrategy: "MultiRecord", maxPayloadInMb: 6, maxConcurrentTransforms: 1, maxRetries: 2 }, `http://127.0.0.1:${port}`);
    assert.equal(summary.files.failed, 1);
    assert.match(summary.failures[0]?.message ?? "", /^records 1: no answer: connect ECONNREFUSED 127\.0\.0\.1/);
  });

  test("a record over MaxPayloadInMB, a file over it with SplitType None, and an unreadable RecordIO file fail their own file", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "big.csv": `a\n${"x".repeat(1024 * 1024)}\n`, "not.rec": "plain text" });
    const lines = await runJob({ ...csvJob(input, output), maxPayloadInMb: 1 }, server);
    const bySource = Object.fromEntries(lines.failures.map((failure) => [failure.file.split("/").pop(), failure.message]));
    assert.match(bySource["big.csv"] ?? "", /^records 2: Record 2 is 1048577 bytes, over MaxPayloadInMB \(1048576 bytes\)/);
    assert.equal(lines.records.failed, 1 + 0);
    const whole = await runJob({ ...csvJob(input, await tempDir()), splitType: "None", maxPayloadInMb: 1 }, server);
    assert.match(whole.failures.find((failure) => failure.file.endsWith("big.csv"))?.message ?? "", /larger than MaxPayloadInMB \(1048576 bytes\) and SplitType is None/);
    const recordio = await runJob({ input: { dataType: "S3Prefix", uri: join(input, "not.rec") }, outputPath: await tempDir(), contentType: "application/x-recordio", splitType: "RecordIO" }, server);
    assert.match(recordio.failures[0]?.message ?? "", /^Not a RecordIO stream: byte 0 holds/);
    assert.deepEqual(recordio.records, { transformed: 0, failed: 0 });
  });

  test("an answer with fewer records than a join needs fails the file, from a container that does not check counts itself", async () => {
    const unchecked = await startTestServer({ handlersPath: recordsFixture, workers: 1 }, {});
    try {
      const input = await tempDir();
      const output = await tempDir();
      await writeFiles(input, { "1.csv": "a\ndrop\n" });
      const summary = await runJob({ ...csvJob(input, output), accept: "text/csv", assembleWith: "Line", joinSource: "Input" }, unchecked);
      assert.match(summary.failures[0]?.message ?? "", /^records 1-2: The answer holds 1 output record for 2 input records/);
      assert.deepEqual(await readTree(output), {});
    } finally {
      await unchecked.close();
    }
  });
});
