/**
 * The S3 test server and the SNS stand-in check SigV4 signatures as AWS does: the real clients
 * signed with the right secret are served, the same clients with a wrong secret or an unknown
 * access key are refused with the service's own error. Without this, a gateway that signed
 * badly (or not at all) would pass every async test.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { s3Credentials, startTestS3, type TestS3 } from "../helpers/s3-server.js";
import { startTestSns, type TestSns } from "../helpers/sns-endpoint.js";

const topic = "arn:aws:sns:us-east-1:000000000000:signatures";
let s3: TestS3;
let sns: TestSns;

before(async () => {
  s3 = await startTestS3();
  sns = await startTestSns([topic], s3Credentials);
});
after(async () => {
  await s3.close();
  await sns.close();
});

function s3Client(credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: "us-east-1", credentials, maxAttempts: 1 });
}

function snsClient(credentials: { accessKeyId: string; secretAccessKey: string }): SNSClient {
  return new SNSClient({ endpoint: sns.endpoint, region: "us-east-1", credentials, maxAttempts: 1 });
}

test("the S3 test server refuses a PutObject signed with a wrong secret (403 SignatureDoesNotMatch) and stores nothing", async () => {
  const wrongSecret = s3Client({ accessKeyId: s3Credentials.accessKeyId, secretAccessKey: "not-the-secret" });
  try {
    await assert.rejects(
      wrongSecret.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "signatures/wrong-secret.txt", Body: "x" })),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => error.name === "SignatureDoesNotMatch" && error.$metadata?.httpStatusCode === 403,
    );
    await assert.rejects(wrongSecret.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "signatures/wrong-secret.txt" })), { name: "SignatureDoesNotMatch" });
  } finally {
    wrongSecret.destroy();
  }
  assert.equal(await s3.exists("signatures/wrong-secret.txt"), false);
});

test("the S3 test server refuses an unknown access key (InvalidAccessKeyId) and serves the right secret", async () => {
  const unknownKey = s3Client({ accessKeyId: "SOMEONE-ELSE", secretAccessKey: s3Credentials.secretAccessKey });
  try {
    await assert.rejects(unknownKey.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "signatures/unknown-key.txt", Body: "x" })), { name: "InvalidAccessKeyId" });
  } finally {
    unknownKey.destroy();
  }
  const rightSecret = s3Client(s3Credentials);
  try {
    await rightSecret.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "signatures/with spaces+plus.txt", Body: "signed", ContentType: "text/plain" }));
  } finally {
    rightSecret.destroy();
  }
  assert.equal((await s3.get("signatures/with spaces+plus.txt"))?.body.toString(), "signed");
});

test("the SNS stand-in refuses a Publish signed with a wrong secret (403 SignatureDoesNotMatch) or an unknown key (InvalidClientTokenId), records nothing, and takes the right secret", async () => {
  const published = sns.published.length;
  const wrongSecret = snsClient({ accessKeyId: s3Credentials.accessKeyId, secretAccessKey: "not-the-secret" });
  try {
    await assert.rejects(
      wrongSecret.send(new PublishCommand({ TopicArn: topic, Message: "badly signed" })),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => error.name === "SignatureDoesNotMatch" && error.$metadata?.httpStatusCode === 403,
    );
  } finally {
    wrongSecret.destroy();
  }
  const unknownKey = snsClient({ accessKeyId: "SOMEONE-ELSE", secretAccessKey: s3Credentials.secretAccessKey });
  try {
    await assert.rejects(unknownKey.send(new PublishCommand({ TopicArn: topic, Message: "unknown key" })), { name: "InvalidClientTokenId" });
  } finally {
    unknownKey.destroy();
  }
  assert.equal(sns.published.length, published);
  const rightSecret = snsClient(s3Credentials);
  try {
    await rightSecret.send(new PublishCommand({ TopicArn: topic, Message: "well signed" }));
  } finally {
    rightSecret.destroy();
  }
  assert.deepEqual(sns.published.slice(published).map((message) => message.message), ["well signed"]);
});
