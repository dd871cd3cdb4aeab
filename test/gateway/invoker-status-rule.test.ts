/**
 * The status rule on the in-process path the async gateway takes (no HTTP between gateway and
 * model server): an InferenceError whose status is outside 400-599 becomes the same 500
 * INTERNAL_ERROR answer /invocations gives, naming the inference id, and the log records the
 * status the handler asked for.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ModelInvocationError } from "../../src/gateway/errors.js";
import { InProcessInvoker } from "../../src/gateway/invoker.js";
import type { RunningServer } from "../../src/server.js";
import { behavioursHandlers } from "../helpers/async-stack.js";
import { captureLog } from "../helpers/capture-log.js";
import { startTestServer } from "../helpers/server.js";

let server: RunningServer;
before(async () => {
  server = await startTestServer({ handlersPath: behavioursHandlers, workers: 1 });
});
after(() => server.close());

const request = (customAttributes: string, inferenceId: string) => ({
  body: Buffer.from("payload"),
  contentType: "text/plain",
  accept: undefined,
  customAttributes,
  inferenceId,
  targetModel: undefined,
  targetVariant: undefined,
  sessionId: undefined,
});

test("an InferenceError with status 302 reaches the gateway as the model's 500 INTERNAL_ERROR, logged with the status it asked for", async () => {
  const { log, records } = captureLog();
  const invoker = new InProcessInvoker(server, log);
  const failure = await invoker.invoke(request("status=302", "redirect-1"), AbortSignal.timeout(10_000)).then(
    () => assert.fail("the invocation should fail"),
    (error: unknown) => error,
  );
  assert.ok(failure instanceof ModelInvocationError);
  assert.equal(failure.statusCode, 500);
  const body = JSON.parse(failure.body.toString()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "INTERNAL_ERROR");
  assert.match(body.error.message, /redirect-1/);
  const logged = records.find((record) => record.msg === "the handlers failed" && record["inferenceId"] === "redirect-1");
  assert.equal(logged?.["handlerStatusCode"], 302);
});

test("an InferenceError with a 4xx status keeps it on the in-process path", async () => {
  const { log } = captureLog();
  const invoker = new InProcessInvoker(server, log);
  await assert.rejects(invoker.invoke(request("status=422", "dark-1"), AbortSignal.timeout(10_000)), (error: unknown) => error instanceof ModelInvocationError && error.statusCode === 422);
});
