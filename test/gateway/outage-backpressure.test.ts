import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { after, before, test } from "node:test";
import { InvokeEndpointAsyncCommand, ServiceUnavailable } from "@aws-sdk/client-sagemaker-runtime";
import { endpointName, startAsyncStack, successTopic, type AsyncStack } from "../helpers/async-stack.js";

// With S3 (or SNS) down, every waiting request used to retry on its own schedule: 5,000 queued
// requests kept a core at 95% with 136 retries/s and 273 log lines/s, and the queue had no bound.
// Scaled down: a queue bound of 40, retry delays of 20-200 ms, and the attempts counted.

const maxQueuedRequests = 40;
const outageMs = 1_500;
let stack: AsyncStack;

before(async () => {
  stack = await startAsyncStack({ maxQueuedRequests, maxConcurrentInvocations: 8, retryBaseMs: 20, retryMaxMs: 200 });
  await stack.s3.put("input/flood.txt", "payload", "text/plain");
});

after(async () => {
  await stack.close();
});

const submit = (id: string) =>
  stack.runtime.send(new InvokeEndpointAsyncCommand({ EndpointName: endpointName, InputLocation: `s3://${stack.s3.bucket}/input/flood.txt`, ContentType: "text/plain", InferenceId: id }));

const attemptsOf = (prefix: string): number =>
  stack.gateway.list().filter((record) => record.inferenceId.startsWith(prefix)).reduce((total, record) => total + record.attempts, 0);

test("with S3 down, a full queue answers ServiceUnavailable (503), the queue probes S3 instead of retrying every request, and drains once S3 is back", { timeout: 60_000 }, async () => {
  await stack.s3.stop();
  const ids = Array.from({ length: maxQueuedRequests }, (_, index) => `flood-${index}`);
  try {
    for (const id of ids) await submit(id);

    await assert.rejects(submit("one-too-many"), (error: unknown) => {
      assert.ok(error instanceof ServiceUnavailable, `ServiceUnavailable, got ${String(error)}`);
      assert.equal(error.$metadata.httpStatusCode, 503);
      assert.match(error.message, /^The endpoint's queue is full: 40 requests are queued or running \(BYOC_ASYNC_MAX_QUEUED_REQUESTS=40\)\. Retry later\.$/);
      return true;
    });
    const raw = await fetch(`${stack.gateway.url}/endpoints/${endpointName}/async-invocations`, {
      method: "POST",
      headers: { "x-amzn-sagemaker-inputlocation": `s3://${stack.s3.bucket}/input/flood.txt`, "x-amzn-sagemaker-inference-id": "raw" },
    });
    assert.equal(raw.status, 503);
    assert.equal(raw.headers.get("x-amzn-errortype"), "ServiceUnavailable");
    assert.equal(((await raw.json()) as { Message: string }).Message.startsWith("The endpoint's queue is full"), true);
    const repeat = await submit("flood-0");
    assert.equal(repeat.InferenceId, "flood-0", "a repeat of a queued request is answered, not refused");

    // Each attempt is a download and two state writes. Retrying every request on its own (20-200
    // ms apart, 8 at a time) made over a hundred in this window; probing makes one per backoff step.
    const started = attemptsOf("flood-");
    await delay(outageMs);
    const attempts = attemptsOf("flood-") - started;
    assert.ok(attempts >= 2 && attempts <= 30, `${attempts} attempts in ${outageMs} ms`);
    assert.ok(stack.gateway.list(["queued"]).filter((record) => record.attempts === 0).length >= maxQueuedRequests - 30, "most requests were never tried");
    assert.equal(stack.logs.filter((line) => line.msg === "S3 is failing; waiting work backs off and probes it with one request at a time").length, 1);
    assert.equal(stack.logs.filter((line) => line.level !== "debug" && line.msg === "transient failure; the request goes back to the queue").length, 0, "no line per retry above debug");
  } finally {
    await stack.s3.restart();
  }
  for (const id of ids) assert.equal((await stack.gateway.waitFor(id)).status, "completed", id);
  assert.ok(stack.logs.some((line) => line.msg === "S3 answers again; waiting work resumes" && line["dependency"] === "S3"));
  assert.equal((await submit("after-the-outage")).InferenceId, "after-the-outage", "room again once the queue drained");
  await stack.gateway.waitFor("after-the-outage");

});

test("with SNS down, pending notifications wait behind one probe at a time and are all sent once SNS is back", { timeout: 60_000 }, async () => {
  const count = 60;
  const ids = Array.from({ length: count }, (_, index) => `notify-${index}`);
  const failedPublishes = () => stack.logs.filter((line) => line.msg === "SNS publish failed; retrying" && String(line["inferenceId"]).startsWith("notify-")).length;
  await stack.sns.stop();
  try {
    for (const id of ids) await submit(id);
    for (const id of ids) await stack.gateway.waitFor(id, (record) => record.status === "completed");
    const before = failedPublishes();
    await delay(outageMs);
    const attempts = failedPublishes() - before;
    assert.ok(attempts <= 25, `${attempts} publish attempts for ${count} notifications in ${outageMs} ms`);
    assert.ok(ids.every((id) => stack.gateway.get(id)?.notification?.status === "pending"));
  } finally {
    await stack.sns.restart();
  }
  for (const id of ids) assert.equal((await stack.gateway.waitFor(id)).notification?.status, "sent", id);
  const delivered = await stack.sns.waitForMessages(successTopic, count);
  for (const id of ids) assert.equal(delivered.filter((message) => message.message.includes(`"inferenceId":"${id}"`)).length, 1, id);
});

test("retries are summed up in one log line per interval (here at shutdown; every 60 s while running), one line per retry only at debug", { timeout: 60_000 }, async () => {
  const requeued = stack.logs.filter((line) => line.msg === "transient failure; the request goes back to the queue").length;
  const publishes = stack.logs.filter((line) => line.msg === "SNS publish failed; retrying").length;
  assert.ok(requeued > 0 && publishes > 0);
  assert.ok(stack.logs.filter((line) => line.msg === "transient failure; the request goes back to the queue" || line.msg === "SNS publish failed; retrying").every((line) => line.level === "debug"));
  await stack.gateway.close();
  const summary = (component: string) => {
    const lines = stack.logs.filter((line) => line.msg === "transient failures since the last summary; retrying with backoff" && line["component"] === component);
    assert.equal(lines.length, 1, component);
    assert.equal(lines[0]?.level, "warn");
    return lines[0] as unknown as { retries: Record<string, number>; lastErrors: Record<string, string> };
  };
  const worker = summary("async worker");
  assert.equal(worker.retries["s3-read"], requeued);
  assert.match(worker.lastErrors["s3-read"] ?? "", /ECONNREFUSED/);
  const notifier = summary("notifier");
  assert.equal(notifier.retries["sns"], publishes);
});
