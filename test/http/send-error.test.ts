/**
 * The status rule where every error becomes an answer: sendError over a real HTTP server, with a
 * logger that keeps its records. An InferenceError keeps a status from 400 to 599; any other value
 * (from JavaScript, or computed at run time) is answered as a 500 that names the inference id, and
 * the log records the status the handler asked for.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { InferenceError, isErrorStatusCode, type ErrorStatusCode } from "../../src/errors.js";
import { sendError } from "../../src/http/send-error.js";
import { captureLog } from "../helpers/capture-log.js";

const { log, records } = captureLog();
let next: InferenceError = new InferenceError("unset");
let server: Server;
let url: string;

before(async () => {
  server = createServer((_request, response) => sendError(response, next, "inference-7", log));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Answers one request with an InferenceError carrying `statusCode`, as a handler's JavaScript could set it. */
async function answer(statusCode: unknown): Promise<{ response: Response; body: { error: { code: string; message: string } } }> {
  next = new InferenceError("The image is too dark", { statusCode: statusCode as ErrorStatusCode, code: "TOO_DARK" });
  records.length = 0;
  const response = await fetch(url, { redirect: "manual" });
  return { response, body: (await response.json()) as { error: { code: string; message: string } } };
}

test("a status from 400 to 599 is kept, with the code and message, and logged at warn", async () => {
  const { response, body } = await answer(422);
  assert.equal(response.status, 422);
  assert.deepEqual(body, { error: { code: "TOO_DARK", message: "The image is too dark" } });
  assert.deepEqual(
    records.map(({ level, status, code }) => ({ level, status, code })),
    [{ level: "warn", status: 422, code: "TOO_DARK" }],
  );
});

for (const status of [200, 302, 1000, 99, 399, 600, 422.5, Number.NaN, "422"]) {
  test(`an InferenceError with status ${typeof status === "string" ? JSON.stringify(status) : String(status)} is answered 500 INTERNAL_ERROR naming the inference id, and logged with that status`, async () => {
    const { response, body } = await answer(status);
    assert.equal(response.status, 500);
    assert.equal(response.headers.get("location"), null);
    assert.equal(body.error.code, "INTERNAL_ERROR");
    assert.match(body.error.message, /inference id inference-7/);
    assert.doesNotMatch(body.error.message, /too dark/);
    assert.equal(records.length, 1);
    const [record] = records;
    assert.equal(record?.level, "error");
    assert.equal(record?.["inferenceId"], "inference-7");
    assert.equal(record?.["status"], 500);
    // JSON has no NaN: pino writes it as null.
    assert.deepEqual(record?.["handlerStatusCode"], Number.isNaN(status) ? null : status);
    assert.match(String((record?.["err"] as { message?: string } | undefined)?.message), /too dark/);
  });
}

test("isErrorStatusCode accepts exactly the integers from 400 to 599", () => {
  const accepted = Array.from({ length: 1000 }, (_, index) => index).filter((value) => isErrorStatusCode(value));
  assert.equal(accepted.length, 200);
  assert.equal(accepted[0], 400);
  assert.equal(accepted.at(-1), 599);
  for (const value of [422.5, Number.NaN, Infinity, "422", null, undefined]) assert.equal(isErrorStatusCode(value), false);
});
