import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, test } from "node:test";
import { describeSummary, runTransform } from "../../src/cli/transform.js";
import type { CommandIo } from "../../src/cli/io.js";
import { ConfigurationError } from "../../src/errors.js";
import { listenToFixtures } from "../helpers/fixture-events.js";
import { irisModelDir, startTestServer } from "../helpers/server.js";
import { cleanUp, readTree, recordsFixture, tempDir, writeFiles } from "./helpers.js";

/** Streams that collect what the command writes. */
function capture(): CommandIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on("data", (chunk: Buffer) => chunks.out.push(chunk));
  stderr.on("data", (chunk: Buffer) => chunks.err.push(chunk));
  return {
    stdin: new PassThrough(),
    stdout,
    stderr,
    out: () => Buffer.concat(chunks.out).toString(),
    err: () => Buffer.concat(chunks.err).toString(),
  };
}

after(cleanUp);

const iris = "5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n";

test("transform runs a job with an in-process server, prints progress and a summary, and exits 0", async () => {
  const input = await tempDir();
  const output = await tempDir();
  await writeFiles(input, { "flowers.csv": iris });
  const io = capture();
  const code = await runTransform(
    ["--input", input, "--output", output, "--model-dir", irisModelDir, "--workers", "1", "--content-type", "text/csv", "--accept", "text/csv", "--split-type", "line", "--assemble-with", "Line"],
    {},
    io,
  );
  assert.equal(code, 0);
  assert.match(io.out(), /^transformed 1 of 1 file: 2 records in \d+\.\d s \([\d,]+ records\/s\)\nparameters: BatchStrategy MultiRecord, MaxPayloadInMB 6, MaxConcurrentTransforms 1\n$/);
  assert.match(io.err(), /\[#{24}\] 100% \| 2 records \| files 1\/1 \| [\d,]+ records\/s\n$/);
  const out = (await readTree(output))["flowers.csv.out"]?.trim().split("\n") ?? [];
  assert.equal(out.length, 2);
  assert.ok(out.every((line) => line.split(",").length === 3));
});

test("transform reads a CreateTransformJob request; its Environment reaches the in-process server, its flags override the file", async () => {
  const input = await tempDir();
  const output = await tempDir();
  await writeFiles(input, { "flowers.csv": iris });
  const job = join(await tempDir(), "job.json");
  await writeFile(
    job,
    JSON.stringify({
      TransformJobName: "local",
      ModelName: "iris",
      MaxConcurrentTransforms: 0,
      Environment: { BYOC_EXECUTION_BATCH_STRATEGY: "SINGLE_RECORD" },
      TransformInput: { DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: input } }, ContentType: "text/csv", SplitType: "Line" },
      TransformOutput: { S3OutputPath: "/nonexistent/overridden", Accept: "text/csv", AssembleWith: "Line" },
      ModelClientConfig: { InvocationsTimeoutInSeconds: 30, InvocationsMaxRetries: 1 },
      TransformResources: { InstanceType: "ml.m5.large", InstanceCount: 1 },
    }),
  );
  const io = capture();
  const code = await runTransform(["--job", job, "--output", output, "--model-dir", irisModelDir, "--workers", "1"], {}, io);
  assert.equal(code, 0);
  assert.match(io.out(), /parameters: BatchStrategy SingleRecord, MaxPayloadInMB 6, MaxConcurrentTransforms 1/);
  assert.equal(Object.keys(await readTree(output)).join(), "flowers.csv.out");
});

test("transform exits 1 and names the failed file when a record fails; it works against a container URL", async () => {
  const server = await startTestServer({ handlersPath: recordsFixture, workers: 1 }, { SAGEMAKER_BATCH: "true" });
  try {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "bad.csv": "a\nstatus=422\n", "good.csv": "b\n" });
    const io = capture();
    const code = await runTransform(["--input", input, "--output", output, "--container-url", `${server.url}/invocations`, "--content-type", "text/csv", "--split-type", "Line", "--max-retries", "0"], {}, io);
    assert.equal(code, 1);
    assert.match(io.out(), /^transformed 1 of 2 files: 1 records in/);
    assert.match(io.out(), new RegExp(`1 file failed \\(2 records in the failed requests\\):\\n  ${join(input, "bad.csv")}: records 1-2: the container answered 422: ASKED: record asked for 422; no ${join(output, "bad.csv.out")} was written\\n$`));
    assert.match(io.err(), /failed: .*bad\.csv: records 1-2: the container answered 422/);
    assert.deepEqual(Object.keys(await readTree(output)), ["good.csv.out"]);
  } finally {
    await server.close();
  }
});

test("transform exits 130 when interrupted, and says how to finish", async () => {
  const server = await startTestServer({ handlersPath: recordsFixture, workers: 1 }, { SAGEMAKER_BATCH: "true" });
  const fixtures = listenToFixtures();
  try {
    const input = await tempDir();
    await writeFiles(input, { "1.csv": "hold\n" });
    const interrupt = new AbortController();
    const io = capture();
    const running = runTransform(["--input", input, "--output", await tempDir(), "--container-url", server.url, "--content-type", "text/csv"], {}, io, interrupt.signal);
    await fixtures.next("the held record", (event) => event.event === "holding");
    interrupt.abort(new Error("SIGINT"));
    assert.equal(await running, 130);
    assert.match(io.out(), /^interrupted: transformed 0 of 1 file/);
    assert.match(io.out(), /run the same command again to finish: files whose \.out exists are skipped\n$/);
    const early = capture();
    assert.equal(await runTransform(["--input", input, "--output", await tempDir(), "--container-url", server.url], {}, early, AbortSignal.abort()), 130);
    assert.equal(early.out(), "interrupted before any file was transformed\n");
  } finally {
    fixtures.close();
    await server.close();
  }
});

test("transform answers usage errors with 2, refuses bad values naming the option, and prints its help", async () => {
  const missing = capture();
  assert.equal(await runTransform(["--input", "somewhere"], {}, missing), 2);
  assert.match(missing.err(), /give --input and --output/);
  await assert.rejects(runTransform(["--input", "a", "--output", "b", "--split-type", "TFRecord"], {}, capture()), (error: unknown) => error instanceof ConfigurationError && /--split-type "TFRecord" must be one of None, Line, RecordIO/.test(error.message));
  await assert.rejects(runTransform(["--input", "a", "--output", "b", "--max-payload", "101"], {}, capture()), /--max-payload "101" must be a whole number from 0 to 100/);
  await assert.rejects(runTransform(["--input", "a", "--output", "b", "--join-source", "Input", "--content-type", "text/csv", "--split-type", "Line"], {}, capture()), /need AssembleWith Line/);
  await assert.rejects(runTransform(["--job", "/nonexistent/job.json"], {}, capture()), /--job \/nonexistent\/job\.json cannot be read/);
  const notJson = join(await tempDir(), "job.json");
  await writeFile(notJson, "{");
  await assert.rejects(runTransform(["--job", notJson], {}, capture()), /is not JSON/);
  const help = capture();
  assert.equal(await runTransform(["--help"], {}, help), 0);
  assert.match(help.out(), /^Usage: sagemaker-byoc transform --input/);
});

test("the in-process server refuses to run a job whose model does not load", async () => {
  const input = await tempDir();
  await writeFiles(input, { "1.csv": "1\n" });
  await assert.rejects(
    runTransform(["--input", input, "--output", await tempDir(), "--model-dir", await tempDir()], { SAGEMAKER_CONTAINER_LOG_LEVEL: "silent" }, capture()),
    /^Error: The model did not load: Model failed to load: No \.onnx file directly in the model directory/,
  );
});

test("the summary counts skipped files and pluralises", () => {
  const summary = {
    parameters: { batchStrategy: "MultiRecord" as const, maxPayloadInMb: 6, maxConcurrentTransforms: 2 },
    files: { total: 3, transformed: 1, skipped: 2, failed: 0 },
    records: { transformed: 1500, failed: 0 },
    failures: [],
    elapsedMs: 1500,
    interrupted: false,
  };
  assert.equal(
    describeSummary(summary),
    "transformed 1 of 3 files (2 skipped: their .out exists): 1,500 records in 1.5 s (1,000 records/s)\nparameters: BatchStrategy MultiRecord, MaxPayloadInMB 6, MaxConcurrentTransforms 2\n",
  );
});
