import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { createS3Client, uploadObject } from "../../src/gateway/async/s3-transfer.js";
import { s3Credentials, startTestS3, type TestS3 } from "../helpers/s3-server.js";

const MiB = 1024 * 1024;
let s3: TestS3;

before(async () => {
  s3 = await startTestS3();
});

after(async () => {
  await s3.close();
});

function client() {
  return createS3Client({ region: "us-east-1", s3Endpoint: s3.endpoint, s3ForcePathStyle: true, snsEndpoint: undefined, runtimeEndpoint: undefined }, s3Credentials);
}

test("an output of exactly 8 MiB goes up in one PutObject; a larger one in 8 MiB parts", { timeout: 60_000 }, async () => {
  const s3Client = client();
  try {
    await uploadObject(s3Client, { bucket: s3.bucket, key: "out/exact.bin" }, Buffer.alloc(8 * MiB, 1), "application/octet-stream", AbortSignal.timeout(30_000));
    assert.equal(s3.requestsFor("POST", "out/exact.bin").length, 0, "no multipart upload");
    assert.equal(s3.requestsFor("PUT", "out/exact.bin").length, 1);

    await uploadObject(s3Client, { bucket: s3.bucket, key: "out/over.bin" }, Buffer.alloc(8 * MiB + 1, 2), "application/octet-stream", AbortSignal.timeout(30_000));
    assert.deepEqual(
      s3.requestsFor("PUT", "out/over.bin").map((request) => /[?&]partNumber=(\d+)/.exec(request.url)?.[1]),
      ["1", "2"],
    );
    assert.equal((await s3.get("out/over.bin"))?.body.length, 8 * MiB + 1);
  } finally {
    s3Client.destroy();
  }
});

test("one transient error in an UploadPart is retried in place by the SDK: the multipart upload is not restarted", { timeout: 60_000 }, async () => {
  const s3Client = client();
  const attempts = new Map<string, number>();
  let failed = false;
  // Runs once per attempt, inside the SDK's retry loop: the second part's first attempt fails as a reset connection would.
  s3Client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "";
      attempts.set(command, (attempts.get(command) ?? 0) + 1);
      const partNumber = (args.input as { PartNumber?: number }).PartNumber;
      if (command === "UploadPartCommand" && partNumber === 2 && !failed) {
        failed = true;
        throw Object.assign(new Error("socket hang up (injected)"), { code: "ECONNRESET" });
      }
      return next(args);
    },
    { step: "deserialize", name: "injectOneResetConnection" },
  );
  const body = randomBytes(17 * MiB);
  try {
    await uploadObject(s3Client, { bucket: s3.bucket, key: "out/retried.bin" }, body, "application/octet-stream", AbortSignal.timeout(30_000));
  } finally {
    s3Client.destroy();
  }
  assert.ok(failed, "the failure was injected");
  assert.deepEqual(Object.fromEntries(attempts), {
    CreateMultipartUploadCommand: 1,
    UploadPartCommand: 4,
    CompleteMultipartUploadCommand: 1,
  });
  assert.deepEqual(
    s3.requestsFor("PUT", "out/retried.bin").map((request) => /[?&]partNumber=(\d+)/.exec(request.url)?.[1]),
    ["1", "2", "3"],
    "each part reached S3 once",
  );
  assert.ok((await s3.get("out/retried.bin"))?.body.equals(body));
});
