import assert from "node:assert/strict";
import { after, test } from "node:test";
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
