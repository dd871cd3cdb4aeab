import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "../../../src/server.js";
import { startServer } from "../../../src/server.js";
import { listenToFixtures, type FixtureEvents } from "../../helpers/fixture-events.js";
import { invoke, irisModelDir, setosaRow, startTestServer } from "../../helpers/server.js";

const behaviours = fileURLToPath(new URL("../../fixtures/handlers/behaviours.ts", import.meta.url));
const recording = fileURLToPath(new URL("../../fixtures/handlers/recording.ts", import.meta.url));

describe("POST /invocations with the default handlers (iris, no handlers file)", () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test("JSON instances give predictions, setosa is class 0", async () => {
    const response = await invoke(server, JSON.stringify({ instances: [setosaRow] }), { "content-type": "application/json" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    const { predictions } = (await response.json()) as { predictions: number[][] };
    const probabilities = predictions[0] as number[];
    assert.equal(probabilities.length, 3);
    assert.equal(probabilities.indexOf(Math.max(...probabilities)), 0);
  });

  test("CSV in, CSV out when Accept asks for it", async () => {
    const response = await invoke(server, "5.1,3.5,1.4,0.2\n6.9,3.1,5.4,2.1\n", { "content-type": "text/csv; charset=utf-8", accept: "text/csv" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/csv");
    const rows = (await response.text()).trim().split("\n").map((line) => line.split(",").map(Number));
    assert.equal(rows.length, 2);
    assert.equal(rows[0]?.indexOf(Math.max(...(rows[0]))), 0);
    assert.equal(rows[1]?.indexOf(Math.max(...(rows[1]))), 2);
  });

  test("Accept q-values pick the preferred type", async () => {
    const response = await invoke(server, "5.1,3.5,1.4,0.2", { "content-type": "text/csv", accept: "application/json;q=0.2, text/csv;q=0.9" });
    assert.equal(response.headers.get("content-type"), "text/csv");
  });

  test("a missing Accept and */* give the default, JSON", async () => {
    for (const accept of [undefined, "*/*"]) {
      const response = await invoke(server, "5.1,3.5,1.4,0.2", { "content-type": "text/csv", ...(accept ? { accept } : {}) });
      assert.equal(response.headers.get("content-type"), "application/json");
    }
  });

  test("an unsupported Content-Type is 415 with a JSON error", async () => {
    const response = await invoke(server, "<xml/>", { "content-type": "application/xml" });
    assert.equal(response.status, 415);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "UNSUPPORTED_MEDIA_TYPE");
    assert.match(body.error.message, /application\/xml/);
  });

  test("an unsupported Accept is 406 NOT_ACCEPTABLE", async () => {
    const response = await invoke(server, JSON.stringify([setosaRow]), { "content-type": "application/json", accept: "image/png" });
    assert.equal(response.status, 406);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "NOT_ACCEPTABLE");
  });

  test("malformed JSON is 400 naming the problem", async () => {
    const response = await invoke(server, '{"instances": [[5.1, 3.5,', { "content-type": "application/json" });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /JSON/);
  });

  test("a wrong tensor shape is 400 naming the expected shape", async () => {
    const response = await invoke(server, JSON.stringify({ instances: [[1, 2, 3, 4, 5]] }), { "content-type": "application/json" });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /features/);
  });

  test("a malformed Content-Type header is 400", async () => {
    const response = await invoke(server, "1,2,3,4", { "content-type": "text/csv; ===" });
    assert.equal(response.status, 400);
  });

  test("unknown routes are 404 and wrong methods 405, as JSON", async () => {
    const missing = await fetch(`${server.url}/predict`, { method: "POST" });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    const wrongMethod = await fetch(`${server.url}/invocations`);
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
  });

  test("a query string or an absolute-form target still reaches /invocations and /ping", async () => {
    const withQuery = await fetch(`${server.url}/invocations?debug=1`, { method: "POST", body: JSON.stringify({ instances: [setosaRow] }), headers: { "content-type": "application/json" } });
    assert.equal(withQuery.status, 200);
    const { port } = new URL(server.url);
    const absolute = await rawRequest(Number(port), `POST http://127.0.0.1:${port}/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 31\r\nConnection: close\r\n\r\n{"instances":[[5,3.5,1.4,0.2]]}`);
    assert.match(absolute, /^HTTP\/1\.1 200 /);
    assert.match(absolute, /"predictions"/);
    const ping = await rawRequest(Number(port), `GET http://127.0.0.1:${port}/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.match(ping, /^HTTP\/1\.1 200 /);
  });
});

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let answer = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (answer += chunk)).on("end", () => resolve(answer)).on("error", reject);
  });
}

describe("Accept is settled before any handler runs (handlers that report each stage, default encoder)", () => {
  let server: RunningServer;
  let fixtures: FixtureEvents;
  before(async () => {
    fixtures = listenToFixtures();
    // One worker: its reports arrive in the order it ran the requests.
    server = await startTestServer({ handlersPath: recording, workers: 1 });
  });
  after(async () => {
    await server.close();
    fixtures.close();
  });

  test("an unsupported Accept is 406 before any inference: neither inputFn nor predictFn runs", async () => {
    const rejected = await invoke(server, "[[1]]", { "content-type": "application/json", accept: "image/png", "x-amzn-sagemaker-inference-id": "not-acceptable" });
    assert.equal(rejected.status, 406);
    assert.equal(((await rejected.json()) as { error: { code: string } }).error.code, "NOT_ACCEPTABLE");
    // A request the same worker runs afterwards does report its stages, so reports of the first would have arrived before.
    const accepted = await invoke(server, "[[1]]", { "content-type": "application/json", accept: "application/json", "x-amzn-sagemaker-inference-id": "acceptable" });
    assert.equal(accepted.status, 200);
    await fixtures.next("predictFn of the accepted request", (event) => event.event === "predictFn" && event.inferenceId === "acceptable");
    assert.deepEqual(fixtures.about("acceptable").map((event) => event.event), ["inputFn", "predictFn"]);
    assert.deepEqual(fixtures.about("not-acceptable"), []);
  });
});

describe("POST /invocations with user handlers", () => {
  let server: RunningServer;
  let fixtures: FixtureEvents;
  before(async () => {
    fixtures = listenToFixtures();
    // The time limit bounds the held requests of the replacement test too: long enough that a loaded
    // machine answers them in time, short enough for the 504 tests.
    server = await startTestServer({ handlersPath: behaviours, workers: 2, timeoutMs: 3000, workerRecycleMs: 500 });
  });
  after(async () => {
    await server.close();
    fixtures.close();
  });

  const call = (behaviour: string, headers: Record<string, string> = {}) =>
    invoke(server, "payload", { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": behaviour, ...headers });

  test("the handlers see the body, content type, accept, inference id and target model", async () => {
    const response = await call("echo", { accept: "application/json", "x-amzn-sagemaker-inference-id": "req-42", "x-amzn-sagemaker-target-model": "m.tar.gz" });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { echo: "payload", contentType: "text/plain", accept: "application/json", inferenceId: "req-42", targetModel: "m.tar.gz" });
  });

  test("an over-long inference id is replaced by a generated one", async () => {
    const response = await call("echo", { "x-amzn-sagemaker-inference-id": "x".repeat(65) });
    const { inferenceId } = (await response.json()) as { inferenceId: string };
    assert.match(inferenceId, /^[0-9a-f-]{36}$/);
  });

  test("custom attributes set by the handler come back in the response header", async () => {
    const response = await call("attributes=trace-7");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-amzn-sagemaker-custom-attributes"), "trace-7");
  });

  test("no custom attributes header unless the handler sets one", async () => {
    const response = await call("echo");
    assert.equal(response.headers.get("x-amzn-sagemaker-custom-attributes"), null);
  });

  test("invalid response custom attributes are a 500, not a malformed header", async () => {
    const response = await call("bad-attributes");
    assert.equal(response.status, 500);
  });

  test("an error thrown by a handler is a generic 500 that hides the detail", async () => {
    const response = await call("throw", { "x-amzn-sagemaker-inference-id": "boom-1" });
    assert.equal(response.status, 500);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "INTERNAL_ERROR");
    assert.doesNotMatch(body.error.message, /secret/);
    assert.match(body.error.message, /boom-1/);
  });

  test("an InferenceError picks the status, code and message", async () => {
    const response = await call("status=422");
    assert.equal(response.status, 422);
    assert.deepEqual(await response.json(), { error: { code: "TOO_DARK", message: "The image is too dark" } });
  });

  for (const status of [200, 302, 1000, 99]) {
    test(`an InferenceError with status ${status}, outside 400-599, is a 500 INTERNAL_ERROR naming the inference id`, async () => {
      const response = await call(`status=${status}`, { "x-amzn-sagemaker-inference-id": `bad-status-${status}` });
      assert.equal(response.status, 500);
      assert.equal(response.headers.get("location"), null);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "INTERNAL_ERROR");
      assert.match(body.error.message, new RegExp(`bad-status-${status}`));
    });
  }

  test("past the time limit: 504, and the handler's AbortSignal fires with the time limit as its reason", async () => {
    const response = await call("wait-for-abort", { "x-amzn-sagemaker-inference-id": "aborted-by-time-limit" });
    assert.equal(response.status, 504);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "TIMEOUT");
    const aborted = await fixtures.next("the handler's abort event", (event) => event.event === "aborted" && event.inferenceId === "aborted-by-time-limit");
    assert.equal(aborted["reason"], "AbortError: Request timeout");
  });

  test("an upload that stalls past the time limit gets 504", async () => {
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(16));
      },
    });
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body: stalled,
      headers: { "content-type": "text/plain" },
      duplex: "half",
    });
    assert.equal(response.status, 504);
  });

  test("a handler that hangs gets 504, its worker is replaced by a new thread, and both workers serve again", async () => {
    const loadedBefore = new Set(fixtures.events.filter((event) => event.event === "loaded").map((event) => event.workerId));
    const hung = await call("hang", { "x-amzn-sagemaker-inference-id": "hangs" });
    assert.equal(hung.status, 504);
    const hanging = await fixtures.next("the hanging worker", (event) => event.event === "hanging" && event.inferenceId === "hangs");
    // Terminated after workerRecycleMs, then a new worker loads the model.
    const replacement = await fixtures.next("a replacement worker", (event) => event.event === "loaded" && !loadedBefore.has(event.workerId));
    assert.notEqual(replacement.threadId, hanging.threadId);
    // Two requests held at once occupy both workers (the second goes to the idle one): the survivor
    // and the replacement. The replacement reports "loaded" from its modelFn, a moment before the
    // pool routes to it, so a pair may still land on the survivor alone: then the pair is tried again.
    let servedBy = new Set<number | undefined>();
    for (let attempt = 0; attempt < 20 && servedBy.size < 2; attempt++) {
      const ids = [`held-${attempt}-a`, `held-${attempt}-b`];
      const held = ids.map((id) => call("hold", { "x-amzn-sagemaker-inference-id": id }));
      const holders = await Promise.all(ids.map((id) => fixtures.next(`${id} to be held`, (event) => event.event === "holding" && event.inferenceId === id)));
      for (const id of ids) fixtures.release(id);
      assert.deepEqual((await Promise.all(held)).map((answer) => answer.status), [200, 200]);
      servedBy = new Set(holders.map((event) => event.workerId));
    }
    assert.equal(servedBy.size, 2);
    assert.ok(servedBy.has(replacement.workerId), "the replacement serves");
    assert.ok(!servedBy.has(hanging.workerId), "the hung worker does not");
  });

  test("/ping answers quickly while every worker is busy with inference", async () => {
    const busy = [call("block=1000"), call("block=1000")];
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const ping = await fetch(`${server.url}/ping`);
    const elapsed = performance.now() - started;
    assert.equal(ping.status, 200);
    assert.ok(elapsed < 200, `ping took ${elapsed} ms`);
    await Promise.all(busy);
  });
});

describe("admission control and body limits", () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer({ handlersPath: behaviours, maxConcurrentRequests: 2, maxPayloadBytes: 1024 });
  });
  after(() => server.close());

  test("beyond the concurrency bound: 503 with Retry-After, not an unbounded queue", async () => {
    const slow = [0, 1].map(() => invoke(server, "x", { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": "sleep=500" }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const rejected = await invoke(server, "x", { "content-type": "text/plain" });
    assert.equal(rejected.status, 503);
    assert.equal(rejected.headers.get("retry-after"), "1");
    assert.equal(((await rejected.json()) as { error: { code: string } }).error.code, "OVERLOADED");
    assert.deepEqual((await Promise.all(slow)).map((response) => response.status), [200, 200]);
  });

  test("a declared body over the limit is 413", async () => {
    const response = await invoke(server, "x".repeat(2048), { "content-type": "text/plain" });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "PAYLOAD_TOO_LARGE");
  });

  test("a chunked body that grows over the limit is 413", async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512));
        controller.close();
      },
    });
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body: chunks,
      headers: { "content-type": "text/plain" },
      duplex: "half",
    });
    assert.equal(response.status, 413);
  });

  test("a body at the limit is accepted", async () => {
    const response = await invoke(server, "x".repeat(1024), { "content-type": "text/plain" });
    assert.equal(response.status, 200);
  });
});

test("a default Accept with no codec fails at start-up instead of 406-ing every request", async () => {
  const server = await startServer(
    { port: 0, host: "127.0.0.1", modelDir: irisModelDir, workers: 1, logLevel: "silent" },
    { SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "text/plain" },
  );
  try {
    await server.loaded;
    const ping = await fetch(`${server.url}/ping`);
    assert.equal(ping.status, 503);
    assert.match(((await ping.json()) as { error: { message: string } }).error.message, /SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text\/plain has no codec/);
  } finally {
    await server.close();
  }
});
