import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { InvokeEndpointAsyncCommand } from "@aws-sdk/client-sagemaker-runtime";
import { errorTopic, startAsyncStack, successTopic, type AsyncStack } from "../helpers/async-stack.js";

let stack: AsyncStack;

before(async () => {
  stack = await startAsyncStack({ includeInferenceResponseIn: ["ERROR_NOTIFICATION_TOPIC"], maxPayloadBytes: 64 * 1024 });
});

after(async () => {
  await stack.close();
});

function invokeAsync(input: Partial<ConstructorParameters<typeof InvokeEndpointAsyncCommand>[0]> & { InputLocation: string }) {
  return stack.runtime.send(new InvokeEndpointAsyncCommand({ EndpointName: "test-endpoint", ...input }));
}

function messagesFor(inferenceId: string, topic: string): Record<string, unknown>[] {
  return stack.sns.published
    .filter((message) => message.topicArn === topic)
    .map((message) => JSON.parse(message.message) as Record<string, unknown>)
    .filter((message) => message["inferenceId"] === inferenceId);
}

test("success: 202 with the locations at once, the output object with the response type, the exact success notification", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/hello.txt", "hello async", "text/plain");
  const answer = await invokeAsync({ InputLocation: `s3://${stack.s3.bucket}/input/hello.txt`, ContentType: "text/plain", InferenceId: "success-1" });
  assert.equal(answer.$metadata.httpStatusCode, 202);
  assert.equal(answer.InferenceId, "success-1");
  assert.equal(answer.OutputLocation, `s3://${stack.s3.bucket}/output/success-1.out`);
  assert.equal(answer.FailureLocation, `s3://${stack.s3.bucket}/failure/success-1-error.out`);

  const record = await stack.gateway.waitFor("success-1");
  assert.equal(record.status, "completed");
  assert.equal(record.notification?.status, "sent");
  const output = await stack.s3.get("output/success-1.out");
  assert.equal(output?.contentType, "application/json");
  assert.deepEqual(JSON.parse(output?.body.toString() ?? ""), {
    echo: "hello async",
    contentType: "text/plain",
    accept: "application/json",
    inferenceId: "success-1",
    targetModel: null,
  });
  assert.equal(await stack.s3.exists("failure/success-1-error.out"), false);

  const [message, ...others] = messagesFor("success-1", successTopic);
  assert.equal(others.length, 0, "one notification");
  assert.deepEqual(message, {
    awsRegion: "us-east-1",
    eventTime: record.completedTime,
    receivedTime: record.receivedTime,
    invocationStatus: "Completed",
    requestParameters: { contentType: "text/plain", endpointName: "test-endpoint", inputLocation: `s3://${stack.s3.bucket}/input/hello.txt` },
    responseParameters: { contentType: "application/json", outputLocation: `s3://${stack.s3.bucket}/output/success-1.out` },
    inferenceId: "success-1",
    eventVersion: "1.0",
    eventSource: "aws:sagemaker",
    eventName: "InferenceResult",
  });
  assert.deepEqual(Object.keys(message ?? {}), [
    "awsRegion",
    "eventTime",
    "receivedTime",
    "invocationStatus",
    "requestParameters",
    "responseParameters",
    "inferenceId",
    "eventVersion",
    "eventSource",
    "eventName",
  ]);
  assert.ok(Date.parse(record.receivedTime) <= Date.parse(record.completedTime ?? ""));
});

test("handler failure: the model's error answer as the failure object, an error notification with failureReason and the response inline", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/dark.txt", "dark image", "text/plain");
  const answer = await invokeAsync({
    InputLocation: `s3://${stack.s3.bucket}/input/dark.txt`,
    ContentType: "text/plain",
    Accept: "application/json",
    CustomAttributes: "status=422",
    InferenceId: "fails-1",
  });
  const record = await stack.gateway.waitFor(answer.InferenceId as string);
  assert.equal(record.status, "failed");
  const failure = await stack.s3.get("failure/fails-1-error.out");
  assert.equal(failure?.contentType, "application/json");
  const errorBody = { error: { code: "TOO_DARK", message: "The image is too dark" } };
  assert.deepEqual(JSON.parse(failure?.body.toString() ?? ""), errorBody);
  assert.equal(await stack.s3.exists("output/fails-1.out"), false);

  const [message] = messagesFor("fails-1", errorTopic);
  const failureReason = 'ClientError: Received client error (422) from model with message "The image is too dark". See the endpoint\'s logs for inference id fails-1.';
  assert.deepEqual(message, {
    awsRegion: "us-east-1",
    eventTime: record.completedTime,
    receivedTime: record.receivedTime,
    invocationStatus: "Failed",
    failureReason,
    requestParameters: {
      accept: "application/json",
      contentType: "text/plain",
      endpointName: "test-endpoint",
      inputLocation: `s3://${stack.s3.bucket}/input/dark.txt`,
    },
    responseBody: { content: Buffer.from(JSON.stringify(errorBody)).toString("base64"), encoding: "BASE64", message: failureReason },
    inferenceId: "fails-1",
    eventVersion: "1.0",
    eventSource: "aws:sagemaker",
    eventName: "InferenceResult",
  });
  assert.equal(messagesFor("fails-1", successTopic).length, 0);
});

test("an unexpected handler error is a generic 500 failure that names the inference id, never the internal detail", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/throw.txt", "x", "text/plain");
  const answer = await invokeAsync({ InputLocation: `s3://${stack.s3.bucket}/input/throw.txt`, CustomAttributes: "throw" });
  const record = await stack.gateway.waitFor(answer.InferenceId as string);
  assert.equal(record.status, "failed");
  assert.match(record.failureReason ?? "", /^ClientError: Received server error \(500\) from model/);
  const failure = await stack.s3.get(`failure/${answer.InferenceId}-error.out`);
  assert.ok(!failure?.body.toString().includes("secret internal detail"));
  assert.match(failure?.body.toString() ?? "", new RegExp(answer.InferenceId as string));
  const logged = stack.logs.find((line) => line.msg === "the handlers failed" && line["inferenceId"] === answer.InferenceId);
  assert.equal(logged?.level, "error", "the real error is in the log, found by the inference id");
  assert.equal((logged?.["err"] as { message?: string } | undefined)?.message, "secret internal detail");
  assert.match(String((logged?.["err"] as { stack?: string } | undefined)?.stack), /behaviours\.ts/);
});

test("a missing input object is a permanent failure: failure object, error notification, no retries", { timeout: 60_000 }, async () => {
  const answer = await invokeAsync({ InputLocation: `s3://${stack.s3.bucket}/input/nothing-here.json`, InferenceId: "missing-1" });
  const record = await stack.gateway.waitFor("missing-1");
  assert.equal(record.status, "failed");
  assert.equal(record.attempts, 1);
  assert.match(record.failureReason ?? "", /^ClientError: Could not read the input s3:\/\/async-bucket\/input\/nothing-here\.json: NoSuchKey/);
  const failure = await stack.s3.get("failure/missing-1-error.out");
  assert.equal(JSON.parse(failure?.body.toString() ?? "{}").error.code, "INPUT_UNREADABLE");
  const [message] = messagesFor("missing-1", errorTopic);
  assert.equal(message?.["invocationStatus"], "Failed");
  assert.equal(message?.["failureReason"], record.failureReason);
  assert.equal(answer.OutputLocation, `s3://${stack.s3.bucket}/output/missing-1.out`);
});

test("the invocation time limit (InvocationTimeoutSeconds) turns a slow model into a failure", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/slow.txt", "x", "text/plain");
  const answer = await invokeAsync({ InputLocation: `s3://${stack.s3.bucket}/input/slow.txt`, CustomAttributes: "sleep=3000", InvocationTimeoutSeconds: 1 });
  const record = await stack.gateway.waitFor(answer.InferenceId as string);
  assert.equal(record.status, "failed");
  assert.equal(record.failureReason, "ClientError: Inference did not finish within InvocationTimeoutSeconds (1 s)");
  const failure = await stack.s3.get(`failure/${answer.InferenceId}-error.out`);
  assert.equal(JSON.parse(failure?.body.toString() ?? "{}").error.code, "TIMEOUT");
});

test("the same inference id again gets the same 202 and runs once; with other parameters it is a ValidationError", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/twice.txt", "twice", "text/plain");
  const request = { InputLocation: `s3://${stack.s3.bucket}/input/twice.txt`, ContentType: "text/plain", InferenceId: "twice-1" };
  const first = await invokeAsync(request);
  const second = await invokeAsync(request);
  assert.deepEqual(
    { id: second.InferenceId, output: second.OutputLocation, failure: second.FailureLocation },
    { id: first.InferenceId, output: first.OutputLocation, failure: first.FailureLocation },
  );
  const record = await stack.gateway.waitFor("twice-1");
  const third = await invokeAsync(request);
  assert.equal(third.OutputLocation, first.OutputLocation);
  assert.equal(record.attempts, 1);
  assert.equal(stack.gateway.get("twice-1")?.attempts, 1);
  assert.equal(messagesFor("twice-1", successTopic).length, 1, "one run, one notification");
  for (const other of [{ InputLocation: `s3://${stack.s3.bucket}/input/other.txt` }, { RequestTTLSeconds: 600 }, { InvocationTimeoutSeconds: 30 }]) {
    await assert.rejects(invokeAsync({ ...request, ...other }), (error: Error) => {
      assert.equal(error.name, "ValidationError", JSON.stringify(other));
      assert.match(error.message, /An earlier request used this inference id with other parameters/);
      return true;
    });
  }
});

test("repeats sent at the same moment as the first request get the same 202 and it runs once", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/together.txt", "together", "text/plain");
  const request = { InputLocation: `s3://${stack.s3.bucket}/input/together.txt`, ContentType: "text/plain", InferenceId: "together-1" };
  const answers = await Promise.all([invokeAsync(request), invokeAsync(request), invokeAsync(request)]);
  assert.deepEqual(new Set(answers.map((answer) => `${answer.$metadata.httpStatusCode} ${answer.OutputLocation}`)), new Set([`202 s3://${stack.s3.bucket}/output/together-1.out`]));
  const record = await stack.gateway.waitFor("together-1");
  assert.equal(record.attempts, 1);
  assert.equal(messagesFor("together-1", successTopic).length, 1);
});

test("an https:// input location, virtual-hosted or path-style, names the bucket and key; the object is read through the configured S3 endpoint, never the URL's host", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/https.txt", "over https", "text/plain");
  const locations = [
    // Port 9 (discard) answers nothing: a read from this host could not succeed.
    `https://127.0.0.1:9/${stack.s3.bucket}/input/https.txt`,
    `https://${stack.s3.bucket}.s3.us-east-1.amazonaws.com/input/https.txt`,
  ];
  for (const location of locations) {
    const answer = await invokeAsync({ InputLocation: location, ContentType: "text/plain" });
    const record = await stack.gateway.waitFor(answer.InferenceId as string);
    assert.equal(record.status, "completed", location);
    assert.equal(record.inputLocation, location);
    assert.equal(JSON.parse((await stack.s3.get(`output/${answer.InferenceId}.out`))?.body.toString() ?? "{}").echo, "over https");
  }
});

test("an input object over the payload limit fails before it is read", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/too-big.bin", Buffer.alloc(64 * 1024 + 1), "application/octet-stream");
  const answer = await invokeAsync({ InputLocation: `s3://${stack.s3.bucket}/input/too-big.bin` });
  const record = await stack.gateway.waitFor(answer.InferenceId as string);
  assert.equal(record.status, "failed");
  assert.equal(
    record.failureReason,
    `ClientError: Could not read the input s3://${stack.s3.bucket}/input/too-big.bin: PayloadLimitError: The input object is 65537 bytes, over the limit of 65536 bytes (BYOC_ASYNC_MAX_PAYLOAD_BYTES)`,
  );
});
