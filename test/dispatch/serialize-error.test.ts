/**
 * Errors cross from a worker thread to the HTTP thread as plain data (structured clone): what
 * survives the trip decides the answer. An InferenceError keeps its status (whatever it is: the
 * status rule is applied where the answer is made), its code and its stack; anything else stays
 * a plain error, answered as a generic 500.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BadRequestError, InferenceError, InferenceTimeoutError, isInferenceError, type ErrorStatusCode } from "../../src/errors.js";
import { deserializeError, serializeError } from "../../src/dispatch/serialize-error.js";
import { toErrorResponse } from "../../src/http/error-response.js";

/** The round trip through postMessage. */
const acrossThreads = (error: unknown): Error => deserializeError(structuredClone(serializeError(error)));

test("an InferenceError keeps its status, code, message, name and stack", () => {
  const original = new BadRequestError("Invalid JSON body", { code: "INVALID_JSON" });
  const received = acrossThreads(original);
  assert.ok(isInferenceError(received));
  assert.equal(received.statusCode, 400);
  assert.equal(received.code, "INVALID_JSON");
  assert.equal(received.message, "Invalid JSON body");
  assert.equal(received.name, "BadRequestError");
  assert.equal(received.stack, original.stack);
});

test("a status outside 400-599 crosses unchanged and is answered as a 500 that remembers it", () => {
  const received = acrossThreads(new InferenceError("moved", { statusCode: 302 as ErrorStatusCode, code: "MOVED" }));
  assert.ok(isInferenceError(received));
  assert.equal(received.statusCode, 302);
  const answer = toErrorResponse(received, "crossed-1");
  assert.equal(answer.statusCode, 500);
  assert.equal(answer.body.error.code, "INTERNAL_ERROR");
  assert.equal(answer.rejectedStatusCode, 302);
});

test("any other error stays a plain error with the worker's stack; a thrown non-error becomes one", () => {
  const original = new TypeError("x is undefined");
  const received = acrossThreads(original);
  assert.ok(!isInferenceError(received));
  assert.equal(received.name, "TypeError");
  assert.equal(received.stack, original.stack);
  const thrownString = acrossThreads("just a string");
  assert.ok(!isInferenceError(thrownString));
  assert.equal(thrownString.message, "just a string");
  assert.equal(toErrorResponse(thrownString, "crossed-2").statusCode, 500);
});

test("an abort inside the handlers comes back as the time-limit error", () => {
  const received = acrossThreads(new DOMException("Request timeout", "AbortError"));
  assert.ok(received instanceof InferenceTimeoutError);
  assert.equal(toErrorResponse(received, "crossed-3").statusCode, 504);
});
