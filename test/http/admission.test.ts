import assert from "node:assert/strict";
import { after, test } from "node:test";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { fileURLToPath } from "node:url";
import { Admission } from "../../src/http/admission.js";
import { OverloadedError } from "../../src/errors.js";
import type { RunningServer } from "../../src/server.js";
import { irisModelDir, startTestServer } from "../helpers/server.js";

const handlers = fileURLToPath(new URL("../fixtures/handlers/misbehaviours.ts", import.meta.url));
const servers: RunningServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

test("within the byte budget requests are admitted at once; past it they wait in order and are admitted as bytes are released", async () => {
  const admission = new Admission({ maxRequests: 10, maxBytes: 100 });
  const signal = new AbortController().signal;
  const releaseFirst = await admission.acquire(60, signal);
  const order: string[] = [];
  const second = admission.acquire(60, signal).then((release) => (order.push("second"), release));
  const third = admission.acquire(30, signal).then((release) => (order.push("third"), release));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [], "30 bytes would fit, but it waits behind the request before it");
  assert.equal(admission.admittedBytes, 60);
  releaseFirst();
  (await second)();
  (await third)();
  assert.deepEqual(order, ["second", "third"]);
  assert.equal(admission.admittedBytes, 0);
  assert.equal(admission.requests, 0);
});

test("bytes held for an answer count against the budget until released: a body that would pass it waits for them", async () => {
  const admission = new Admission({ maxRequests: 10, maxBytes: 100 });
  const releaseAnswer = admission.hold(80);
  let admitted = false;
  const waiting = admission.acquire(30, new AbortController().signal).then((release) => ((admitted = true), release));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(admitted, false);
  releaseAnswer();
  (await waiting)();
  assert.equal(admission.admittedBytes, 0);
});

test("a body larger than the whole budget is admitted alone rather than never", async () => {
  const admission = new Admission({ maxRequests: 10, maxBytes: 100 });
  const release = await admission.acquire(500, new AbortController().signal);
  assert.equal(admission.admittedBytes, 500);
  release();
});

test("past the request count the answer is Overloaded at once; a waiter whose signal fires leaves the queue with its reason", async () => {
  const admission = new Admission({ maxRequests: 2, maxBytes: 10 });
  const signal = new AbortController().signal;
  const release = await admission.acquire(10, signal);
  const giveUp = new AbortController();
  const waiting = admission.acquire(10, giveUp.signal);
  await assert.rejects(admission.acquire(1, signal), OverloadedError);
  giveUp.abort(new Error("time limit"));
  await assert.rejects(waiting, /time limit/);
  assert.equal(admission.requests, 1);
  release();
  assert.equal(admission.requests, 0);
});

test("over HTTP, a body that would pass BYOC_MAX_IN_FLIGHT_BYTES waits unread until the one before it is answered, then succeeds", async () => {
  const server = await startTestServer({ modelDir: irisModelDir, handlersPath: handlers, workers: 2, maxInFlightBytes: 1_500_000 });
  servers.push(server);
  await server.loaded;
  const body = "x".repeat(1_000_000);
  const send = async (): Promise<{ started: number; ended: number }> => {
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body,
      headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": "sleep=300" },
    });
    assert.equal(response.status, 200);
    return (await response.json()) as { started: number; ended: number };
  };
  const [first, second] = await Promise.all([send(), send()]);
  // Two workers could run both at once; the byte budget makes the second wait for the first.
  const [early, late] = [first, second].sort((a, b) => a.started - b.started) as [typeof first, typeof first];
  assert.ok(late.started >= early.ended, `the handlers overlapped: ${JSON.stringify([early, late])}`);
});

test("over HTTP, an answer its client has not read yet holds its bytes: a request past BYOC_MAX_IN_FLIGHT_BYTES waits until the client reads it", async () => {
  const server = await startTestServer({ modelDir: irisModelDir, handlersPath: handlers, workers: 2, maxInFlightBytes: 10_000_000 });
  servers.push(server);
  await server.loaded;
  const { port } = new URL(server.url);
  // 20 MB of answer, more than the loopback socket buffers take, so most of it waits in the server.
  const unread = await new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = httpRequest({ host: "127.0.0.1", port, path: "/invocations", method: "POST", headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": "big=20000000" } }, (response) => {
      response.pause();
      resolve(response);
    });
    outgoing.on("error", reject);
    outgoing.end("x");
  });
  let answered = false;
  const next = fetch(`${server.url}/invocations`, { method: "POST", body: "x", headers: { "content-type": "text/plain" } }).then((response) => ((answered = true), response));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(answered, false, "the second request waited while 20 MB of answer were unread");
  let received = 0;
  unread.on("data", (chunk: Buffer) => (received += chunk.length));
  const ended = new Promise((resolve) => unread.on("end", resolve));
  unread.resume();
  assert.equal((await next).status, 200);
  await ended;
  assert.equal(received, 20_000_002, "the first answer arrived whole");
});
