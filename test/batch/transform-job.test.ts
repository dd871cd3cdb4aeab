import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import type { BatchStrategy, SplitType } from "../../src/batch/job.js";
import { encodeRecordIO, decodeRecordIO } from "../../src/batch/recordio.js";
import type { RunningServer } from "../../src/server.js";
import { listenToFixtures, type FixtureEvent, type FixtureEvents } from "../helpers/fixture-events.js";
import { invoke, startTestServer } from "../helpers/server.js";
import { batchesSince, cleanUp, observe, readTree, recordsFixture, runJob, tempDir, writeFiles } from "./helpers.js";

const MB = 1024 * 1024;
/** Records of 300,001 bytes: three (with their newlines or RecordIO framing) fit in 1 MB, four do not. */
const big = (name: string): string => `${name}${"x".repeat(300_001 - name.length)}`;
const bigRecords = (names: readonly string[]): string[] => names.map(big);

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

interface Case {
  readonly splitType: SplitType;
  readonly strategy: BatchStrategy;
  /** Each request: its record count and its first record. */
  readonly requests: readonly (readonly [number, string])[];
  /** Whether the requests hold RecordIO framing. */
  readonly framed: boolean;
}

const oneByOne = ["a1", "a2", "a3", "a4", "a5", "b1", "b2"].map((first) => [1, first] as const);
const cases: readonly Case[] = [
  { splitType: "None", strategy: "SingleRecord", requests: [[5, "a1"], [2, "b1"]], framed: false },
  { splitType: "None", strategy: "MultiRecord", requests: [[5, "a1"], [2, "b1"]], framed: false },
  { splitType: "Line", strategy: "SingleRecord", requests: oneByOne, framed: false },
  { splitType: "Line", strategy: "MultiRecord", requests: [[3, "a1"], [2, "a4"], [2, "b1"]], framed: false },
  { splitType: "RecordIO", strategy: "SingleRecord", requests: oneByOne, framed: false },
  { splitType: "RecordIO", strategy: "MultiRecord", requests: [[3, "a1"], [2, "a4"], [2, "b1"]], framed: true },
];

describe("every SplitType × BatchStrategy, two files, MaxPayloadInMB 1", () => {
  const a = bigRecords(["a1", "a2", "a3", "a4", "a5"]);
  const b = bigRecords(["b1", "b2"]);
  for (const { splitType, strategy, requests, framed } of cases) {
    test(`${splitType} × ${strategy}: ${requests.length} requests of ${requests.map(([count]) => count).join(", ")} records, none spanning files, outputs in order`, async () => {
      const recordio = splitType === "RecordIO";
      const type = recordio ? "application/x-recordio" : "text/csv";
      const file = (records: readonly string[]): string | Buffer => (recordio ? encodeRecordIO(records.map((record) => Buffer.from(record))) : records.map((record) => `${record}\n`).join(""));
      const input = await tempDir();
      const output = await tempDir();
      await writeFiles(input, { "a.csv": file(a), "nested/b.csv": file(b) });
      const from = fixtures.events.length;
      // A whole file (SplitType None) is larger than 1 MB: let it through with MaxPayloadInMB 0.
      const summary = await runJob(
        { input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: type, accept: type, splitType, batchStrategy: strategy, maxPayloadInMb: splitType === "None" ? 0 : 1, maxConcurrentTransforms: 1, assembleWith: recordio ? "None" : "Line" },
        server,
      );
      assert.deepEqual(summary.files, { total: 2, transformed: 2, skipped: 0, failed: 0 });
      assert.equal(summary.records.transformed, splitType === "None" ? 2 : 7);
      const sent = batchesSince(fixtures, from);
      assert.deepEqual(
        sent.map((event) => [event.records, String(event.first).slice(0, 2)]),
        requests,
      );
      assert.ok(sent.every((event) => event.framed === framed));
      const outputs = await readTree(output);
      assert.deepEqual(Object.keys(outputs).sort(), ["a.csv.out", "nested/b.csv.out"]);
      const expected = (records: readonly string[]): string[] => records.map((record) => `out:${record}`);
      if (recordio) {
        const read = async (name: string): Promise<string[]> => decodeRecordIO(await readFile(join(output, name))).map((record) => record.data.toString());
        assert.deepEqual(await read("a.csv.out"), expected(a));
        assert.deepEqual(await read("nested/b.csv.out"), expected(b));
      } else {
        assert.deepEqual(outputs["a.csv.out"], expected(a).map((line) => `${line}\n`).join(""));
        assert.deepEqual(outputs["nested/b.csv.out"], expected(b).map((line) => `${line}\n`).join(""));
      }
    });
  }
});

describe("requests", () => {
  test("carry the job's Content-Type and no Accept when the job sets none; the container answers in the request's type", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "x.csv": "r1\nr2\n" });
    const from = fixtures.events.length;
    await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv; charset=utf-8", splitType: "Line", batchStrategy: "MultiRecord" }, server);
    const [sent] = batchesSince(fixtures, from);
    assert.equal(sent?.contentType, "text/csv; charset=utf-8");
    assert.equal(sent?.accept, "text/csv; charset=utf-8");
    assert.deepEqual(await readTree(output), { "x.csv.out": "out:r1\nout:r2\n" });
  });

  test("at most MaxConcurrentTransforms are in flight across files, and each file's outputs stay in order", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "1.csv": "hold\nx1\n", "2.csv": "hold\nx2\n", "3.csv": "hold\nx3\n", "4.csv": "y4\n" });
    const from = fixtures.events.length;
    const job = runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv", splitType: "Line", batchStrategy: "SingleRecord", maxConcurrentTransforms: 3 }, server);
    const held: FixtureEvent[] = [];
    while (held.length < 3) held.push(await fixtures.next("a held request", (event) => event.event === "holding" && fixtures.events.indexOf(event) >= from && !held.includes(event)));
    // Released last first: the answers arrive out of order.
    for (const event of [...held].reverse()) fixtures.release(event.inferenceId as string);
    const summary = await job;
    assert.equal(summary.files.transformed, 4);
    let inFlight = 0;
    let most = 0;
    for (const event of fixtures.events.slice(from)) {
      if (event.event === "batch") most = Math.max(most, ++inFlight);
      if (event.event === "done") inFlight--;
    }
    assert.equal(most, 3);
    assert.deepEqual(await readTree(output), { "1.csv.out": "out:hold\nout:x1\n", "2.csv.out": "out:hold\nout:x2\n", "3.csv.out": "out:hold\nout:x3\n", "4.csv.out": "out:y4\n" });
  });

  test("CompressionType Gzip reads the files decompressed", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "x.csv.gz": gzipSync("r1\nr2\nr3\n") });
    const summary = await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv", splitType: "Line", compressionType: "Gzip", assembleWith: "Line" }, server);
    assert.equal(summary.records.transformed, 3);
    assert.deepEqual(await readTree(output), { "x.csv.gz.out": "out:r1\nout:r2\nout:r3\n" });
  });

  test("a manifest lists the inputs, named by their relative paths; one file can be the input too", async () => {
    const data = await tempDir();
    const output = await tempDir();
    await writeFiles(data, { "p/one.csv": "1\n", "p/two.csv": "2\n", "p/skip.csv": "3\n", "job.manifest": JSON.stringify([{ prefix: "p/" }, "one.csv", "two.csv"]) });
    const summary = await runJob({ input: { dataType: "ManifestFile", uri: join(data, "job.manifest") }, outputPath: output, contentType: "text/csv", splitType: "Line" }, server);
    assert.equal(summary.files.transformed, 2);
    assert.deepEqual(await readTree(output), { "one.csv.out": "out:1\n", "two.csv.out": "out:2\n" });
    const single = await tempDir();
    await runJob({ input: { dataType: "S3Prefix", uri: join(data, "p", "skip.csv") }, outputPath: single, contentType: "text/csv", splitType: "Line" }, server);
    assert.deepEqual(await readTree(single), { "skip.csv.out": "out:3\n" });
  });

  test("an empty file gets an empty output without a request", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "empty.csv": "" });
    const from = fixtures.events.length;
    const summary = await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv", splitType: "Line" }, server);
    assert.equal(summary.files.transformed, 1);
    assert.deepEqual(batchesSince(fixtures, from), []);
    assert.deepEqual(await readTree(output), { "empty.csv.out": "" });
  });
});

describe("DataProcessing with the iris model", () => {
  let iris: RunningServer;
  before(async () => {
    iris = await startTestServer({ workers: 1 }, { SAGEMAKER_BATCH: "true" });
  });
  after(() => iris.close());

  const rows = [
    ["id-1", 5.1, 3.5, 1.4, 0.2],
    ["id-2", 6.2, 2.9, 4.3, 1.3],
    ["id-3", 7.7, 3.0, 6.1, 2.3],
  ] as const;

  /** The model's answer to one row sent alone, as CSV cells. */
  async function predictOne(features: readonly number[]): Promise<string> {
    const response = await invoke(iris, features.join(","), { "content-type": "text/csv", accept: "text/csv" });
    return (await response.text()).trim();
  }

  test("CSV: InputFilter $[1:] sends the features, JoinSource Input and OutputFilter $[0,-3:] keep the id and the three probabilities", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "flowers.csv": rows.map((row) => row.join(",")).join("\n") });
    const summary = await runJob(
      { input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv", accept: "text/csv", splitType: "Line", batchStrategy: "MultiRecord", assembleWith: "Line", inputFilter: "$[1:]", joinSource: "Input", outputFilter: "$[0,-3:]" },
      iris,
    );
    assert.equal(summary.files.failed, 0);
    const expected = await Promise.all(rows.map(async (row) => `${row[0]},${await predictOne(row.slice(1) as number[])}`));
    assert.deepEqual((await readTree(output))["flowers.csv.out"]?.split("\n"), [...expected, ""]);
  });

  test("JSON Lines: InputFilter $.features, JoinSource Input, OutputFilter $['id','SageMakerOutput']", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "flowers.jsonl": rows.map((row) => JSON.stringify({ id: row[0], features: row.slice(1), note: "dropped" })).join("\n") });
    const summary = await runJob(
      {
        input: { dataType: "S3Prefix", uri: input },
        outputPath: output,
        contentType: "application/jsonlines",
        accept: "application/jsonlines",
        splitType: "Line",
        assembleWith: "Line",
        inputFilter: "$.features",
        joinSource: "Input",
        outputFilter: "$['id','SageMakerOutput']",
      },
      iris,
    );
    assert.equal(summary.files.failed, 0);
    const lines = (await readTree(output))["flowers.jsonl.out"]?.trim().split("\n").map((line) => JSON.parse(line) as { id: string; SageMakerOutput: number[] });
    assert.deepEqual(
      lines?.map((line) => line.id),
      ["id-1", "id-2", "id-3"],
    );
    for (const [index, row] of rows.entries()) assert.deepEqual(lines?.[index]?.SageMakerOutput.join(","), await predictOne(row.slice(1) as number[]));
  });

  test("SplitType None sends a whole CSV file; its output is the model's answer for all its rows", async () => {
    const input = await tempDir();
    const output = await tempDir();
    await writeFiles(input, { "all.csv": rows.map((row) => row.slice(1).join(",")).join("\n") });
    await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv", accept: "text/csv", assembleWith: "Line" }, iris);
    const expected = await Promise.all(rows.map((row) => predictOne(row.slice(1) as number[])));
    assert.equal((await readTree(output))["all.csv.out"], `${expected.join("\n")}\n`);
  });
});

describe("against a container that is not this toolkit's (no /execution-parameters)", () => {
  test("the job takes SageMaker's defaults (MultiRecord, 6 MB, one at a time) and needs only /ping and /invocations", async () => {
    // A stand-in for another toolkit's container (the Python toolkit cannot run here): it knows
    // /ping and /invocations only and answers each line upper-cased, one per line.
    const seen: string[] = [];
    const other = createServer((request, response) => {
      seen.push(`${request.method ?? ""} ${request.url ?? ""} ${request.headers["accept"] ?? "(no accept)"}`);
      if (request.url === "/invocations") {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => response.writeHead(200, { "content-type": "text/csv" }).end(Buffer.concat(chunks).toString().toUpperCase()));
        return;
      }
      response.writeHead(request.url === "/ping" ? 200 : 404).end();
    });
    other.listen(0, "127.0.0.1");
    await once(other, "listening");
    try {
      const input = await tempDir();
      const output = await tempDir();
      await writeFiles(input, { "x.csv": "a\nb\nc\n" });
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const summary = await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv", splitType: "Line", assembleWith: "Line" }, url, { observer: observe() });
      assert.deepEqual(summary.parameters, { batchStrategy: "MultiRecord", maxPayloadInMb: 6, maxConcurrentTransforms: 1 });
      assert.deepEqual(seen, ["GET /execution-parameters (no accept)", "POST /invocations (no accept)"]);
      assert.deepEqual(await readTree(output), { "x.csv.out": "A\nB\nC\n" });
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });

  test("the container's suggestions fill what the job leaves unset, and the job's own values win", async () => {
    const input = await tempDir();
    await writeFiles(input, { "x.csv": "a\n" });
    const suggested = await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: await tempDir(), contentType: "text/csv", splitType: "Line" }, server);
    assert.deepEqual(suggested.parameters, { batchStrategy: "MultiRecord", maxPayloadInMb: 6, maxConcurrentTransforms: 1 });
    const own = await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: await tempDir(), contentType: "text/csv", splitType: "Line", batchStrategy: "SingleRecord", maxPayloadInMb: 2, maxConcurrentTransforms: 5 }, server);
    assert.deepEqual(own.parameters, { batchStrategy: "SingleRecord", maxPayloadInMb: 2, maxConcurrentTransforms: 5 });
  });
});

test("MaxPayloadInMB is honoured both ways: 6 MB mini-batches of a 7 MB file, each accepted by a container told the payload", async () => {
  const input = await tempDir();
  const output = await tempDir();
  // 7 records of 1 MB (newline included): six fit in 6 MB exactly, so two requests, each within the server's 6 MiB body limit.
  const records = Array.from({ length: 7 }, (_, index) => `${index}${"y".repeat(MB - 2)}`);
  await writeFiles(input, { "big.csv": records.map((record) => `${record}\n`).join("") });
  const from = fixtures.events.length;
  const summary = await runJob({ input: { dataType: "S3Prefix", uri: input }, outputPath: output, contentType: "text/csv", splitType: "Line", batchStrategy: "MultiRecord", maxPayloadInMb: 6 }, server);
  assert.equal(summary.files.failed, 0);
  const sent = batchesSince(fixtures, from);
  assert.deepEqual(
    sent.map((event) => event.records),
    [6, 1],
  );
  assert.ok(sent.every((event) => (event.bytes as number) <= 6 * MB));
});
