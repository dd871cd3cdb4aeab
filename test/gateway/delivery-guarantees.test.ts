import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { InvokeEndpointAsyncCommand, type InvokeEndpointAsyncCommandInput } from "@aws-sdk/client-sagemaker-runtime";
import { errorTopic, startAsyncStack, successTopic, type AsyncStack } from "../helpers/async-stack.js";

let stack: AsyncStack;

before(async () => {
  stack = await startAsyncStack({ maxConcurrentInvocations: 2, includeInferenceResponseIn: ["SUCCESS_NOTIFICATION_TOPIC"] });
  await stack.s3.put("input/guarantees.txt", "payload", "text/plain");
});

after(async () => {
  await stack.close();
});

async function submit(id: string, extra: Partial<InvokeEndpointAsyncCommandInput> = {}, key = "input/guarantees.txt"): Promise<void> {
  await stack.runtime.send(
    new InvokeEndpointAsyncCommand({ EndpointName: "test-endpoint", InputLocation: `s3://${stack.s3.bucket}/${key}`, ContentType: "text/plain", InferenceId: id, ...extra }),
  );
}

test("S3 down before the download: the request waits in the queue with backoff and completes once S3 is back", { timeout: 60_000 }, async () => {
  await stack.s3.stop();
  try {
    await submit("s3-outage-1");
    const waiting = await stack.gateway.waitFor("s3-outage-1", (record) => record.status === "queued" && record.attempts >= 2);
    assert.match(waiting.lastError ?? "", /Could not read the input .*ECONNREFUSED/);
  } finally {
    await stack.s3.restart();
  }
  const record = await stack.gateway.waitFor("s3-outage-1");
  assert.equal(record.status, "completed");
  assert.ok(record.attempts >= 2);
  assert.ok(await stack.s3.exists("output/s3-outage-1.out"));
});

test("S3 down when the output is written: the computed result is retried in place, not recomputed, and lands once S3 is back", { timeout: 60_000 }, async () => {
  await submit("s3-outage-2", { CustomAttributes: "sleep=300" });
  await stack.waitForLog("input read; invoking the model", (line) => line["inferenceId"] === "s3-outage-2");
  await stack.s3.stop();
  try {
    await stack.waitForLog("S3 write failed; retrying", (line) => line["inferenceId"] === "s3-outage-2");
  } finally {
    await stack.s3.restart();
  }
  const record = await stack.gateway.waitFor("s3-outage-2");
  assert.equal(record.status, "completed");
  assert.equal(record.attempts, 1, "the inference ran once");
  assert.deepEqual(JSON.parse((await stack.s3.get("output/s3-outage-2.out"))?.body.toString() ?? "{}"), { slept: 300 });
});

test("SNS failing (500, then throttling) is retried with backoff: the notification arrives once, nothing is lost", { timeout: 60_000 }, async () => {
  stack.sns.failNext(3, "internal");
  await submit("sns-retry-1");
  let record = await stack.gateway.waitFor("sns-retry-1");
  assert.equal(record.notification?.status, "sent");
  assert.equal(record.notification?.attempts, 4);
  assert.equal(stack.sns.published.filter((message) => message.message.includes('"sns-retry-1"')).length, 1);
  const warnings = stack.logs.filter((line) => line.msg === "SNS publish failed; retrying" && line["inferenceId"] === "sns-retry-1");
  assert.equal(warnings.length, 3, "each failure is logged");

  stack.sns.failNext(2, "throttle");
  await submit("sns-retry-2");
  const pending = await stack.gateway.waitFor("sns-retry-2", (candidate) => candidate.status === "completed");
  assert.equal(typeof pending.inlineResponse, "string", "kept for the notification until it is sent");
  record = await stack.gateway.waitFor("sns-retry-2");
  assert.equal(record.notification?.status, "sent");
  assert.equal(record.notification?.attempts, 3);
  assert.equal(record.inlineResponse, undefined, "dropped once sent: finished records do not hold response bodies");
  const [message] = await stack.sns.waitForMessages(successTopic, 1).then((all) => all.filter((item) => item.message.includes('"sns-retry-2"')));
  const parsed = JSON.parse(message?.message ?? "{}") as { responseBody?: { content: string; encoding: string } };
  assert.equal(parsed.responseBody?.encoding, "BASE64");
  assert.deepEqual(JSON.parse(Buffer.from(parsed.responseBody?.content ?? "", "base64").toString()), {
    echo: "payload",
    contentType: "text/plain",
    accept: "application/json",
    inferenceId: "sns-retry-2",
    targetModel: null,
  });
});

test("a permanent SNS error (no such topic) is logged and recorded, not retried forever", { timeout: 60_000 }, async () => {
  stack.sns.failNext(1, "not-found");
  await submit("sns-permanent-1");
  const record = await stack.gateway.waitFor("sns-permanent-1");
  assert.equal(record.status, "completed");
  assert.equal(record.notification?.status, "failed");
  assert.match(record.notification?.error ?? "", /Topic does not exist/);
  assert.ok(stack.logs.some((line) => line.msg === "SNS publish failed permanently; the notification is not sent" && line["inferenceId"] === "sns-permanent-1"));
});

test("MaxConcurrentInvocationsPerInstance bounds how many run at once", { timeout: 60_000 }, async () => {
  const ids = ["conc-1", "conc-2", "conc-3", "conc-4", "conc-5"];
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, stack.gateway.list(["running"]).length)), 5);
  const started = performance.now();
  try {
    await Promise.all(ids.map((id) => submit(id, { CustomAttributes: "sleep=300" })));
    await Promise.all(ids.map((id) => stack.gateway.waitFor(id)));
  } finally {
    clearInterval(sampler);
  }
  assert.equal(most, 2);
  assert.ok(performance.now() - started >= 3 * 300, "five 300 ms inferences two at a time take three rounds");
  for (const id of ids) assert.equal(stack.gateway.get(id)?.status, "completed");
});

test("RequestTTLSeconds counts from receipt: a request still queued past it fails with an error notification", { timeout: 60_000 }, async () => {
  await Promise.all([submit("ttl-busy-1", { CustomAttributes: "sleep=800" }), submit("ttl-busy-2", { CustomAttributes: "sleep=800" })]);
  await stack.gateway.waitFor("ttl-busy-2", (record) => record.status === "running");
  await submit("ttl-1", { RequestTTLSeconds: 60 });
  assert.equal(stack.gateway.get("ttl-1")?.status, "queued", "both slots are busy");
  stack.advanceClock(61_000);
  const record = await stack.gateway.waitFor("ttl-1");
  assert.equal(record.status, "failed");
  assert.equal(record.attempts, 0, "it never ran");
  assert.equal(record.failureReason, "ClientError: Request expired: not processed within RequestTTLSeconds (60 s) of being received");
  assert.equal(JSON.parse((await stack.s3.get("failure/ttl-1-error.out"))?.body.toString() ?? "{}").error.code, "REQUEST_EXPIRED");
  const [message] = (await stack.sns.waitForMessages(errorTopic)).filter((item) => item.message.includes('"ttl-1"'));
  assert.equal((JSON.parse(message?.message ?? "{}") as { failureReason: string }).failureReason, record.failureReason);
  assert.equal((await stack.gateway.waitFor("ttl-busy-1")).status, "completed", "requests already running are not expired");
});

test("after a restart on the same queue directory, queued requests run and pending notifications are sent", { timeout: 60_000 }, async () => {
  await stack.sns.stop();
  try {
    await submit("restart-1");
    await stack.waitForLog("SNS publish failed; retrying", (line) => line["inferenceId"] === "restart-1");
    await stack.gateway.close();
  } finally {
    await stack.sns.restart();
  }
  assert.equal(stack.gateway.get("restart-1")?.notification?.status, "pending");
  const restarted = await stack.restartGateway();
  const record = await restarted.waitFor("restart-1");
  assert.equal(record.notification?.status, "sent");
  assert.equal(stack.sns.published.filter((message) => message.message.includes('"restart-1"')).length, 1);
  assert.equal(restarted.get("s3-outage-1")?.status, "completed", "finished requests are remembered");
});
