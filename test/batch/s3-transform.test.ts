import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { RunningServer } from "../../src/server.js";
import { listenToFixtures, type FixtureEvents } from "../helpers/fixture-events.js";
import { startTestS3, type TestS3 } from "../helpers/s3-server.js";
import { invoke, startTestServer } from "../helpers/server.js";
import { batchesSince, cleanUp, observe, recordsFixture, runJob } from "./helpers.js";

let s3: TestS3;
let iris: RunningServer;
let records: RunningServer;
let fixtures: FixtureEvents;

before(async () => {
  fixtures = listenToFixtures();
  [s3, iris, records] = await Promise.all([
    startTestS3("transform-bucket"),
    startTestServer({ workers: 1 }, { SAGEMAKER_BATCH: "true" }),
    startTestServer({ handlersPath: recordsFixture, workers: 1 }, { SAGEMAKER_BATCH: "true" }),
  ]);
});
after(async () => {
  fixtures.close();
  await Promise.all([s3.close(), iris.close(), records.close()]);
  await cleanUp();
});

const flowers = {
  "input/setosa.csv": "5.1,3.5,1.4,0.2\n4.9,3.0,1.4,0.2\n5.0,3.6,1.4,0.2\n",
  "input/part/mixed.csv": "6.2,2.9,4.3,1.3\r\n7.7,3.0,6.1,2.3\n\n6.3,3.3,6.0,2.5",
};

/** The model's answer to each row sent alone, as SageMaker's documented behaviour makes it: one line per record. */
async function oneByOne(file: string): Promise<string> {
  const rows = file.split("\n").map((row) => row.trim()).filter((row) => row !== "");
  const answers = await Promise.all(rows.map(async (row) => (await (await invoke(iris, row, { "content-type": "text/csv", accept: "text/csv" })).text()).trim()));
  return answers.map((answer) => `${answer}\n`).join("");
}

test("a multi-file S3 prefix becomes one <file>.out per input under the output prefix, line for line as the rows sent one at a time", async () => {
  for (const [key, body] of Object.entries(flowers)) await s3.put(key, body, "text/csv");
  await s3.put("input/empty/", Buffer.alloc(0));
  await s3.put("input-other/not-mine.csv", "1,2,3,4\n");
  const summary = await runJob(
    { input: { dataType: "S3Prefix", uri: "s3://transform-bucket/input/" }, outputPath: "s3://transform-bucket/output", contentType: "text/csv", accept: "text/csv", splitType: "Line", batchStrategy: "MultiRecord", assembleWith: "Line" },
    iris,
    { s3: () => s3.client },
  );
  assert.deepEqual(summary.files, { total: 2, transformed: 2, skipped: 0, failed: 0 });
  assert.equal(summary.records.transformed, 6);
  const setosa = await s3.get("output/setosa.csv.out");
  assert.equal(setosa?.contentType, "text/csv");
  assert.equal(setosa?.body.toString(), await oneByOne(flowers["input/setosa.csv"]));
  assert.equal((await s3.get("output/part/mixed.csv.out"))?.body.toString(), await oneByOne(flowers["input/part/mixed.csv"]));
  assert.equal(await s3.exists("output/empty/.out"), false);
  assert.equal(await s3.exists("output/not-mine.csv.out"), false);
});

test("run again with the same output, a job reads none of the inputs whose .out exists", async () => {
  const gets = (): number => s3.requests.filter((request) => request.method === "GET" && request.url.startsWith("/transform-bucket/input/")).length;
  const before = gets();
  const summary = await runJob(
    { input: { dataType: "S3Prefix", uri: "s3://transform-bucket/input/" }, outputPath: "s3://transform-bucket/output/", contentType: "text/csv", accept: "text/csv", splitType: "Line", assembleWith: "Line" },
    iris,
    { s3: () => s3.client },
  );
  assert.deepEqual(summary.files, { total: 2, transformed: 0, skipped: 2, failed: 0 });
  assert.equal(gets(), before);
});

test("a prefix that is not a folder matches keys that start with it, named past its last slash", async () => {
  const summary = await runJob(
    { input: { dataType: "S3Prefix", uri: "s3://transform-bucket/input/set" }, outputPath: "s3://transform-bucket/by-prefix/", contentType: "text/csv", accept: "text/csv", splitType: "Line", assembleWith: "Line" },
    iris,
    { s3: () => s3.client },
  );
  assert.equal(summary.files.transformed, 1);
  assert.equal(await s3.exists("by-prefix/setosa.csv.out"), true);
});

test("a manifest in S3 lists the objects to transform", async () => {
  await s3.put("manifests/job.manifest", JSON.stringify([{ prefix: "s3://transform-bucket/input/" }, "part/mixed.csv"]), "application/json");
  const summary = await runJob(
    { input: { dataType: "ManifestFile", uri: "s3://transform-bucket/manifests/job.manifest" }, outputPath: "s3://transform-bucket/from-manifest/", contentType: "text/csv", accept: "text/csv", splitType: "Line", assembleWith: "Line" },
    iris,
    { s3: () => s3.client },
  );
  assert.equal(summary.files.transformed, 1);
  assert.equal((await s3.get("from-manifest/part/mixed.csv.out"))?.body.toString(), await oneByOne(flowers["input/part/mixed.csv"]));
});

test("a manifest that lists a missing object, or is not a manifest, stops the job before any request", async () => {
  await s3.put("manifests/missing.manifest", JSON.stringify([{ prefix: "s3://transform-bucket/input/" }, "nope.csv"]));
  await s3.put("manifests/bad.manifest", JSON.stringify({ prefix: "s3://transform-bucket/input/" }));
  const request = (uri: string) => ({ input: { dataType: "ManifestFile" as const, uri }, outputPath: "s3://transform-bucket/never/", contentType: "text/csv", splitType: "Line" as const });
  await assert.rejects(runJob(request("s3://transform-bucket/manifests/missing.manifest"), iris, { s3: () => s3.client }), /lists s3:\/\/transform-bucket\/input\/nope\.csv, which cannot be read/);
  await assert.rejects(runJob(request("s3://transform-bucket/manifests/bad.manifest"), iris, { s3: () => s3.client }), /must be a JSON array: \[\{"prefix"/);
  await assert.rejects(runJob(request("s3://transform-bucket/manifests/none.manifest"), iris, { s3: () => s3.client }), /cannot be read/);
});

test("interrupted, a job leaves no partial object in S3; run again, it finishes the rest", async () => {
  await s3.put("resume/1.csv", "r1\n");
  await s3.put("resume/2.csv", "r2\nhold\nr3\n");
  await s3.put("resume/3.csv", "r4\n");
  const job = { input: { dataType: "S3Prefix" as const, uri: "s3://transform-bucket/resume/" }, outputPath: "s3://transform-bucket/resumed/", contentType: "text/csv", splitType: "Line" as const, batchStrategy: "SingleRecord" as const };
  const interrupt = new AbortController();
  const from = fixtures.events.length;
  const running = runJob(job, records, { s3: () => s3.client, signal: interrupt.signal, observer: observe() });
  await fixtures.next("the held record", (event) => event.event === "holding" && fixtures.events.indexOf(event) >= from);
  interrupt.abort(new Error("interrupted by the test"));
  const interrupted = await running;
  assert.equal(interrupted.interrupted, true);
  assert.deepEqual(interrupted.files, { total: 3, transformed: 1, skipped: 0, failed: 0 });
  assert.equal(await s3.exists("resumed/1.csv.out"), true);
  assert.equal(await s3.exists("resumed/2.csv.out"), false);
  assert.equal(await s3.exists("resumed/3.csv.out"), false);

  const again = fixtures.events.length;
  const release = fixtures.next("the held record again", (event) => event.event === "holding" && fixtures.events.indexOf(event) >= again).then((event) => fixtures.release(event.inferenceId as string));
  const finished = await runJob(job, records, { s3: () => s3.client, observer: observe({ started: () => undefined }) , backoff: { baseMs: 5, maxMs: 20 } });
  await release;
  assert.deepEqual(finished.failures, []);
  assert.deepEqual(finished.files, { total: 3, transformed: 2, skipped: 1, failed: 0 });
  assert.deepEqual(
    batchesSince(fixtures, again).map((event) => event.first),
    ["r2", "hold", "r3", "r4"],
  );
  assert.equal((await s3.get("resumed/2.csv.out"))?.body.toString(), "out:r2\nout:hold\nout:r3\n");
  assert.equal((await s3.get("resumed/3.csv.out"))?.body.toString(), "out:r4\n");
});
