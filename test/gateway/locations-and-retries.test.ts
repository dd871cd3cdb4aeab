import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelInvocationError, validationError } from "../../src/gateway/errors.js";
import { backoffDelay, isTransientError, retryTransient, sleep } from "../../src/gateway/async/retry.js";
import { formatS3Uri, joinS3Path, parseInputLocation, parseS3Uri } from "../../src/gateway/async/s3-location.js";

test("S3 URIs and HTTPS object URLs parse into bucket and key; anything else is refused", () => {
  assert.deepEqual(parseS3Uri("s3://bucket/a/b.json"), { bucket: "bucket", key: "a/b.json" });
  assert.deepEqual(parseS3Uri("s3://bucket"), { bucket: "bucket", key: "" });
  assert.equal(parseS3Uri("https://bucket/key"), undefined);
  assert.deepEqual(parseInputLocation("s3://b/in.csv"), { bucket: "b", key: "in.csv" });
  assert.equal(parseInputLocation("s3://b/"), undefined);
  assert.deepEqual(parseInputLocation("https://my-bucket.s3.eu-west-1.amazonaws.com/in/x%20y.csv"), { bucket: "my-bucket", key: "in/x y.csv" });
  assert.deepEqual(parseInputLocation("https://my.bucket.s3.amazonaws.com/k"), { bucket: "my.bucket", key: "k" });
  assert.deepEqual(parseInputLocation("https://s3.us-east-1.amazonaws.com/bucket/key/part"), { bucket: "bucket", key: "key/part" });
  assert.deepEqual(parseInputLocation("https://localhost:4566/bucket/key"), { bucket: "bucket", key: "key" });
  for (const refused of ["https://my-bucket.s3.amazonaws.com/", "https://host/bucket-only", "https://host/bucket/", "http://host/b/k", "ftp://b/k", "https://[bad", "s3:/b/k", "https://host/bucket/key%E0%A4%A", "https://b.s3.amazonaws.com/%ZZ"]) {
    assert.equal(parseInputLocation(refused), undefined, refused);
  }
  assert.equal(formatS3Uri({ bucket: "b", key: "k/1.out" }), "s3://b/k/1.out");
  assert.equal(joinS3Path("s3://b/out/", "x.out"), "s3://b/out/x.out");
  assert.equal(joinS3Path("s3://b", "x.out"), "s3://b/x.out");
});

test("transient errors (5xx, 429, throttling, timeouts, dropped connections) are retried; 4xx like NoSuchKey are not", () => {
  const withStatus = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  assert.equal(isTransientError(withStatus("InternalError", 500)), true);
  assert.equal(isTransientError(withStatus("SlowDown", 503)), true);
  assert.equal(isTransientError(withStatus("Throttled", 429)), true);
  assert.equal(isTransientError(withStatus("Throttling", 400)), true);
  assert.equal(isTransientError(withStatus("NoSuchKey", 404)), false);
  assert.equal(isTransientError(withStatus("AccessDenied", 403)), false);
  assert.equal(isTransientError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })), true);
  assert.equal(isTransientError(Object.assign(new Error("timeout"), { name: "TimeoutError" })), true);
  assert.equal(isTransientError(new AggregateError([Object.assign(new Error("x"), { code: "ECONNRESET" })])), true);
  assert.equal(isTransientError(new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "EPIPE" }) })), true);
  assert.equal(isTransientError(new Error("plain")), false);
  assert.equal(isTransientError("text"), false);
  assert.equal(isTransientError(null), false);
});

test("backoff is exponential with full jitter and a ceiling", () => {
  const top = { baseMs: 100, maxMs: 1_000, random: () => 0.999_999 };
  assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((attempt) => backoffDelay(attempt, top)), [99, 199, 399, 799, 999, 999, 999]);
  assert.equal(backoffDelay(5, { baseMs: 100, maxMs: 1_000, random: () => 0 }), 0);
  const delay = backoffDelay(2, { baseMs: 100, maxMs: 1_000 });
  assert.ok(delay >= 0 && delay < 400);
});

test("retryTransient retries transient failures until success, stops at a permanent one or at the signal", async () => {
  let calls = 0;
  const retries: number[] = [];
  const value = await retryTransient(
    async () => {
      calls++;
      if (calls < 3) throw Object.assign(new Error("busy"), { $metadata: { httpStatusCode: 503 } });
      return "done";
    },
    { baseMs: 1, maxMs: 2 },
    new AbortController().signal,
    (_error, attempt) => retries.push(attempt),
  );
  assert.equal(value, "done");
  assert.deepEqual(retries, [1, 2]);
  await assert.rejects(
    retryTransient(() => Promise.reject(new Error("permanent")), { baseMs: 1, maxMs: 2 }, new AbortController().signal, () => assert.fail("no retry")),
    /permanent/,
  );
  const stop = new AbortController();
  const stopped = retryTransient(() => Promise.reject(Object.assign(new Error("down"), { code: "ECONNREFUSED" })), { baseMs: 10_000, maxMs: 10_000 }, stop.signal, () => stop.abort(new Error("stopping")));
  await assert.rejects(stopped, /down|stopping/);
  await assert.rejects(sleep(10, AbortSignal.abort(new Error("already"))), /already/);
  let disk = 0;
  const saved = await retryTransient(
    async () => {
      if (++disk < 3) throw Object.assign(new Error("no space left"), { code: "ENOSPC" });
      return "saved";
    },
    { baseMs: 1, maxMs: 2 },
    new AbortController().signal,
    () => undefined,
    () => true,
  );
  assert.equal(saved, "saved", "a caller can retry errors that are not transient by default (a full disk)");
});

test("model errors carry the model's message; validation errors read like AWS's", () => {
  assert.equal(new ModelInvocationError(400, Buffer.from('{"error":{"code":"X","message":"bad row"}}'), "application/json").originalMessage, "bad row");
  assert.equal(new ModelInvocationError(500, Buffer.from('{"message":"boom"}'), "application/json").originalMessage, "boom");
  assert.equal(new ModelInvocationError(500, Buffer.from("  plain text  "), "text/plain").originalMessage, "plain text");
  assert.equal(new ModelInvocationError(500, Buffer.from("x".repeat(2000)), "text/plain").originalMessage.length, 1027);
  assert.equal(validationError("inputLocation", "y".repeat(300), "c").message.includes("..."), true);
});
