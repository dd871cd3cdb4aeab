import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ListBucketsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { InvokeEndpointAsyncCommand, ValidationError } from "@aws-sdk/client-sagemaker-runtime";
import type { AsyncRequestRecord } from "../../src/gateway/async/queue.js";
import { hasDotSegment, parseInputLocation, parseS3Uri } from "../../src/gateway/async/s3-location.js";
import { downloadObject, uploadObject } from "../../src/gateway/async/s3-transfer.js";
import { loadAsyncConfig } from "../../src/config/async-config.js";
import { ConfigurationError } from "../../src/errors.js";
import { endpointName, startAsyncStack, type AsyncStack } from "../helpers/async-stack.js";

// An InferenceId of "../../evil-bucket/x" used to reach S3 as PUT /bucket/failure/../../evil-bucket/x-error.out:
// a store or proxy that collapses ".." would write into another bucket. These tests send the
// attacks to the real gateway and read back, from a real S3-protocol server, everything written.

let stack: AsyncStack;

before(async () => {
  stack = await startAsyncStack();
  await stack.s3.put("input/payload.txt", "hello", "text/plain");
});

after(async () => {
  await stack.close();
});

async function refused(request: { InferenceId?: string; InputLocation?: string }, message: RegExp): Promise<void> {
  const command = new InvokeEndpointAsyncCommand({ EndpointName: endpointName, InputLocation: `s3://${stack.s3.bucket}/input/payload.txt`, ...request });
  await assert.rejects(stack.runtime.send(command), (error: unknown) => {
    assert.ok(error instanceof ValidationError, `a ValidationError, got ${String(error)}`);
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.match(error.message, message);
    return true;
  });
}

/** Every bucket and key the S3 server holds. */
async function everything(): Promise<string[]> {
  const { Buckets = [] } = await stack.s3.client.send(new ListBucketsCommand({}));
  const keys: string[] = [];
  for (const { Name } of Buckets) {
    const { Contents = [] } = await stack.s3.client.send(new ListObjectsV2Command({ Bucket: Name }));
    keys.push(...Contents.map(({ Key }) => `${Name}/${Key}`));
  }
  return keys.sort();
}

test("an InferenceId with a path is a ValidationError and nothing reaches S3", { timeout: 60_000 }, async () => {
  const before = stack.s3.requests.length;
  await refused({ InferenceId: "../../evil-bucket/x" }, /Value '\.\.\/\.\.\/evil-bucket\/x' at 'inferenceId' failed to satisfy constraint: Member must not contain '\/' or '\\'/);
  await refused({ InferenceId: "..\\..\\evil-bucket\\x" }, /at 'inferenceId'/);
  await refused({ InferenceId: "a/b" }, /at 'inferenceId'/);
  assert.equal(stack.s3.requests.length, before, "no request reached S3");
  assert.deepEqual(await everything(), [`${stack.s3.bucket}/input/payload.txt`]);
});

test("an InputLocation with . or .. segments, plain or percent-encoded, is a ValidationError", { timeout: 60_000 }, async () => {
  for (const location of [
    `s3://${stack.s3.bucket}/input/../../evil-bucket/x`,
    `s3://${stack.s3.bucket}/input/./payload.txt`,
    `s3://${stack.s3.bucket}/input/..\\secret`,
    `https://${stack.s3.bucket}.s3.us-east-1.amazonaws.com/input/%2e%2E/x`,
    `https://localhost:4566/${stack.s3.bucket}/input/../../evil-bucket/x`,
  ]) {
    await refused({ InputLocation: location }, /at 'inputLocation' failed to satisfy constraint: Member must not have '\.' or '\.\.' path segments/);
  }
});

test("ids with dots but no separator stay one key under the output path", { timeout: 60_000 }, async () => {
  for (const id of ["..", "..evil", "x.."]) {
    const accepted = await stack.runtime.send(
      new InvokeEndpointAsyncCommand({ EndpointName: endpointName, InputLocation: `s3://${stack.s3.bucket}/input/payload.txt`, InferenceId: id, ContentType: "text/plain" }),
    );
    assert.equal(accepted.OutputLocation, `s3://${stack.s3.bucket}/output/${id}.out`);
    assert.equal((await stack.gateway.waitFor(id)).status, "completed");
  }
  const keys = await everything();
  assert.deepEqual(keys.filter((key) => !key.startsWith(`${stack.s3.bucket}/input/`)), [
    `${stack.s3.bucket}/output/...out`,
    `${stack.s3.bucket}/output/..evil.out`,
    `${stack.s3.bucket}/output/x...out`,
  ]);
});

test("a record queued by an older version with a hostile location fails without writing outside the output path", { timeout: 60_000 }, async () => {
  await stack.gateway.close();
  const id = "../../evil-bucket/x";
  const record: AsyncRequestRecord = {
    inferenceId: id,
    endpointName,
    status: "queued",
    receivedTime: new Date().toISOString(),
    inputLocation: `s3://${stack.s3.bucket}/input/payload.txt`,
    outputLocation: `s3://${stack.s3.bucket}/output/${id}.out`,
    failureLocation: `s3://${stack.s3.bucket}/failure/${id}-error.out`,
    contentType: "text/plain",
    accept: undefined,
    customAttributes: undefined,
    requestTtlSeconds: 3600,
    invocationTimeoutSeconds: 60,
    attempts: 0,
  };
  const requests = join(stack.queueDir, "requests");
  await mkdir(requests, { recursive: true });
  await writeFile(join(requests, `${Buffer.from(id).toString("hex")}.json`), JSON.stringify(record));
  const writesBefore = stack.s3.requests.filter((request) => request.method === "PUT" || request.method === "POST").length;
  const gateway = await stack.restartGateway();
  const finished = await gateway.waitFor(id);
  assert.equal(finished.status, "failed");
  assert.match(finished.failureReason ?? "", /^ClientError: Refusing the locations of this request .*output s3:\/\/async-bucket\/output\/\.\.\/\.\.\/evil-bucket\/x\.out.*'\.' or '\.\.' segment/);
  assert.ok(stack.logs.some((line) => line.msg === "refusing to write the failure object: its key has a '.' or '..' segment"));
  const writes = stack.s3.requests.filter((request) => request.method === "PUT" || request.method === "POST");
  assert.equal(writes.length, writesBefore, `no write reached S3: ${JSON.stringify(writes.slice(writesBefore))}`);
  assert.ok(!(await everything()).some((key) => key.includes("evil-bucket")));
});

test("the S3 transfers refuse a key with a . or .. segment before sending anything", async () => {
  const before = stack.s3.requests.length;
  const signal = new AbortController().signal;
  await assert.rejects(uploadObject(stack.s3.client, { bucket: stack.s3.bucket, key: "output/../x" }, "x", "text/plain", signal), /Refusing the S3 key "output\/\.\.\/x"/);
  await assert.rejects(downloadObject(stack.s3.client, { bucket: stack.s3.bucket, key: "input/%2e%2e/payload.txt" }, 1024, signal), /'\.' or '\.\.' segment/);
  assert.equal(stack.s3.requests.length, before);
});

test("hasDotSegment and the parsers refuse . and .. segments wherever a key is read", () => {
  assert.equal(hasDotSegment("a/../b"), true);
  assert.equal(hasDotSegment("a/%2E/b"), true);
  assert.equal(hasDotSegment("a\\..\\b"), true);
  assert.equal(hasDotSegment("..."), false);
  assert.equal(hasDotSegment("v1.2/..data/%E0%A4%A"), false);
  assert.equal(parseS3Uri("s3://bucket/out/../x"), undefined);
  assert.deepEqual(parseS3Uri("s3://bucket/out/...x"), { bucket: "bucket", key: "out/...x" });
  assert.equal(parseInputLocation("https://host/bucket/a/%2e%2e/b"), undefined);
  assert.equal(parseInputLocation("https://bucket.s3.amazonaws.com/./k"), undefined);
  assert.deepEqual(parseInputLocation("https://host/bucket/k?x=1#y"), { bucket: "bucket", key: "k" });
  assert.throws(
    () => loadAsyncConfig({}, { s3OutputPath: "s3://bucket/out/../other" }),
    (error: unknown) => error instanceof ConfigurationError && /s3OutputPath="s3:\/\/bucket\/out\/\.\.\/other" must be an S3 URI .*without \. or \.\. segments/.test(error.message),
  );
});
