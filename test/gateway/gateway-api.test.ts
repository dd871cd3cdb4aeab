import assert from "node:assert/strict";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  InvokeEndpointAsyncCommand,
  InvokeEndpointCommand,
  ModelError,
  ServiceUnavailable,
  ValidationError,
  type InvokeEndpointAsyncCommandInput,
} from "@aws-sdk/client-sagemaker-runtime";
import { HttpInvoker } from "../../src/gateway/invoker.js";
import { startAsyncStack, type AsyncStack } from "../helpers/async-stack.js";

let stack: AsyncStack;

before(async () => {
  stack = await startAsyncStack();
});

after(async () => {
  await stack.close();
});

const input = (): string => `s3://${stack.s3.bucket}/input/gateway.txt`;

async function rejectsWith(request: Partial<InvokeEndpointAsyncCommandInput>, message: RegExp, headers: Record<string, string> = {}): Promise<void> {
  const command = new InvokeEndpointAsyncCommand({ EndpointName: "test-endpoint", InputLocation: input(), ...request });
  command.middlewareStack.add(
    (next) => async (args) => {
      Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
      return next(args);
    },
    { step: "build" },
  );
  await assert.rejects(stack.runtime.send(command), (error: unknown) => {
    assert.ok(error instanceof ValidationError, `a ValidationError, got ${(error as Error).name}`);
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.match(error.message, message);
    return true;
  });
}

test("the unmodified SDK client parses every validation error as ValidationError with the service's wording", { timeout: 60_000 }, async () => {
  await rejectsWith({ EndpointName: "other-endpoint" }, /^Endpoint other-endpoint of account 000000000000 not found\.$/);
  await rejectsWith({ InputLocation: undefined }, /Value null at 'inputLocation' failed to satisfy constraint: Member must not be null/);
  await rejectsWith({ InputLocation: "ftp://bucket/key" }, /Value 'ftp:\/\/bucket\/key' at 'inputLocation'/);
  await rejectsWith({ InputLocation: "s3://bucket-only" }, /at 'inputLocation'/);
  await rejectsWith({ RequestTTLSeconds: 59 }, /Value '59' at 'requestTTLSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60/);
  await rejectsWith({ RequestTTLSeconds: 21_601 }, /Member must have value less than or equal to 21600/);
  await rejectsWith({ InvocationTimeoutSeconds: 0 }, /at 'invocationTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1/);
  await rejectsWith({ InvocationTimeoutSeconds: 3601 }, /Member must have value less than or equal to 3600/);
  await rejectsWith({ InferenceId: "x".repeat(65) }, /at 'inferenceId'/);
  await rejectsWith({ InferenceId: "tab\there" }, /at 'inferenceId'/);
  await rejectsWith({ CustomAttributes: "a".repeat(1025) }, /at 'customAttributes' failed to satisfy constraint: Member must have length less than or equal to 1024/);
  await rejectsWith({ Filename: "out.json" }, /at 'filename'/);
  await rejectsWith({ S3OutputPathExtension: "sub" }, /at 's3OutputPathExtension'/);
  await rejectsWith({ InputLocation: undefined, Body: Buffer.from("inline") }, /at 'body'/);
  await rejectsWith({}, /at 'requestTTLSeconds' failed to satisfy constraint: Member must be an integer/, { "x-amzn-sagemaker-requestttlseconds": "soon" });
  await rejectsWith({ InputLocation: "https://host/bucket/key%E0%A4%A" }, /Value 'https:\/\/host\/bucket\/key%E0%A4%A' at 'inputLocation'/);
  assert.equal(stack.gateway.list().length, 0, "nothing was queued");

  // A body over 64 KiB is refused like any inline body (not with the model server's BYOC_MAX_PAYLOAD_BYTES).
  const large = await fetch(`${stack.gateway.url}/endpoints/test-endpoint/async-invocations`, {
    method: "POST",
    headers: { "x-amzn-sagemaker-inputlocation": input() },
    body: Buffer.alloc(64 * 1024 + 1),
  });
  assert.equal(large.status, 400);
  assert.equal(large.headers.get("x-amzn-errortype"), "ValidationError");
  const message = ((await large.json()) as { Message: string }).Message;
  assert.match(message, /Value 'more than 65536 bytes' at 'body' failed to satisfy constraint: This local gateway does not take inline bodies/);
  assert.doesNotMatch(message, /BYOC_MAX_PAYLOAD_BYTES/);
});

test("a 202 only for a request on disk: when the queue cannot write, the request and its repeat fail, and nothing is queued", { timeout: 60_000 }, async () => {
  const requests = join(stack.queueDir, "requests");
  const send = () => stack.runtime.send(new InvokeEndpointAsyncCommand({ EndpointName: "test-endpoint", InputLocation: input(), InferenceId: "unwritable-1" }));
  await rm(requests, { recursive: true });
  try {
    // Sent together: the repeat arrives while the first write is under way and shares its fate.
    const answers = await Promise.allSettled([send(), send()]);
    for (const answer of answers) {
      assert.equal(answer.status, "rejected");
      assert.equal((answer.reason as Error).name, "InternalFailure");
      assert.equal((answer.reason as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode, 500);
    }
    await assert.rejects(send(), { name: "InternalFailure" }, "a later repeat is not answered 202 either");
    assert.equal(stack.gateway.get("unwritable-1"), undefined);
    assert.ok(stack.logs.some((line) => line.msg === "gateway request failed" && (line["err"] as { code?: string } | undefined)?.code === "ENOENT"));
  } finally {
    await mkdir(requests, { recursive: true });
  }
  await stack.s3.put("input/gateway.txt", "written", "text/plain");
  const accepted = await send();
  assert.equal(accepted.$metadata.httpStatusCode, 202);
  assert.equal((await stack.gateway.waitFor("unwritable-1")).status, "completed");
});

test("InvokeEndpoint through the gateway: body, content type, variant and custom attributes as the real service returns them", { timeout: 60_000 }, async () => {
  const answer = await stack.runtime.send(
    new InvokeEndpointCommand({ EndpointName: "test-endpoint", Body: Buffer.from("hi"), ContentType: "text/plain", CustomAttributes: "attributes=trace-7" }),
  );
  assert.equal(answer.$metadata.httpStatusCode, 200);
  assert.equal(answer.ContentType, "application/json");
  assert.equal(answer.InvokedProductionVariant, "AllTraffic");
  assert.equal(answer.CustomAttributes, "trace-7");
  assert.deepEqual(JSON.parse(Buffer.from(answer.Body ?? []).toString()), { ok: true });
});

test("a model error reaches the SDK as ModelError (424) with OriginalStatusCode and OriginalMessage", { timeout: 60_000 }, async () => {
  await assert.rejects(
    stack.runtime.send(new InvokeEndpointCommand({ EndpointName: "test-endpoint", Body: Buffer.from("x"), ContentType: "text/plain", CustomAttributes: "status=422" })),
    (error: unknown) => {
      assert.ok(error instanceof ModelError);
      assert.equal(error.$metadata.httpStatusCode, 424);
      assert.equal(error.OriginalStatusCode, 422);
      assert.deepEqual(JSON.parse(error.OriginalMessage ?? ""), { error: { code: "TOO_DARK", message: "The image is too dark" } });
      assert.match(error.message, /^Received client error \(422\) from primary with message "The image is too dark"\. See .* in account 000000000000 for more information\.$/);
      assert.equal(error.LogStreamArn, "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/test-endpoint");
      return true;
    },
  );
  await assert.rejects(
    stack.runtime.send(new InvokeEndpointCommand({ EndpointName: "missing", Body: Buffer.from("x") })),
    (error: unknown) => error instanceof ValidationError && error.message === "Endpoint missing of account 000000000000 not found.",
  );
});

test("a real-time body over 6 MiB is a ValidationError, as on SageMaker", { timeout: 60_000 }, async () => {
  await assert.rejects(
    stack.runtime.send(new InvokeEndpointCommand({ EndpointName: "test-endpoint", Body: Buffer.alloc(6 * 1024 * 1024 + 1), ContentType: "text/plain" })),
    (error: unknown) => error instanceof ValidationError && /6291456/.test(error.message),
  );
});

test("GET /async-requests lists and inspects requests; unknown ids and statuses are clear errors", { timeout: 60_000 }, async () => {
  await stack.s3.put("input/gateway.txt", "listed", "text/plain");
  const accepted = await stack.runtime.send(new InvokeEndpointAsyncCommand({ EndpointName: "test-endpoint", InputLocation: input(), InferenceId: "listed-1" }));
  await stack.gateway.waitFor("listed-1");
  const list = (await (await fetch(`${stack.gateway.url}/async-requests?status=completed`)).json()) as { requests: Array<Record<string, unknown>> };
  assert.ok(list.requests.some((record) => record["inferenceId"] === "listed-1" && record["status"] === "completed"));
  const shown = (await (await fetch(`${stack.gateway.url}/async-requests/${encodeURIComponent("listed-1")}`)).json()) as Record<string, unknown>;
  assert.equal(shown["outputLocation"], accepted.OutputLocation);
  assert.equal(shown["attempts"], 1);
  const missing = await fetch(`${stack.gateway.url}/async-requests/nope`);
  assert.equal(missing.status, 404);
  const badStatus = await fetch(`${stack.gateway.url}/async-requests?status=done`);
  assert.equal(badStatus.status, 400);
  assert.match(((await badStatus.json()) as { error: { message: string } }).error.message, /Unknown status done/);
  const unknown = await fetch(`${stack.gateway.url}/endpoints/test-endpoint/nothing`, { method: "POST" });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("x-amzn-errortype"), "UnknownOperationException");
  const ping = await fetch(`${stack.gateway.url}/ping`);
  assert.deepEqual(await ping.json(), { status: "ready", endpointName: "test-endpoint", invoker: "in-process" });
});

test("beside mode: the HTTP invoker forwards to a container's /invocations; an unreachable container is ServiceUnavailable", { timeout: 60_000 }, async () => {
  const invoker = new HttpInvoker(`${stack.server.url}/invocations`);
  const result = await invoker.invoke(
    {
      body: Buffer.from("via http"),
      contentType: "text/plain",
      accept: "application/json",
      customAttributes: "attributes=back",
      inferenceId: "http-1",
      targetModel: "m",
      targetVariant: "v",
      sessionId: "s",
    },
    AbortSignal.timeout(5_000),
  );
  assert.equal(result.contentType, "application/json");
  assert.equal(result.customAttributes, "back");

  const beside = await startAsyncStack({}, { invoker: new HttpInvoker("http://127.0.0.1:9/invocations") });
  try {
    await assert.rejects(
      beside.runtime.send(new InvokeEndpointCommand({ EndpointName: "test-endpoint", Body: Buffer.from("x") })),
      (error: unknown) => error instanceof ServiceUnavailable && /Could not reach the model at http:\/\/127\.0\.0\.1:9\/invocations/.test(error.message),
    );
  } finally {
    await beside.close();
  }
});
