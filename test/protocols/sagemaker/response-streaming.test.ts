import assert from "node:assert/strict";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "../../../src/server.js";
import { listenToFixtures, type FixtureEvents } from "../../helpers/fixture-events.js";
import { irisModelDir, startTestServer } from "../../helpers/server.js";

const handlersPath = fileURLToPath(new URL("../../fixtures/handlers/streaming.ts", import.meta.url));
let server: RunningServer;
let fixtures: FixtureEvents;
before(async () => {
  fixtures = listenToFixtures();
  server = await startTestServer({ modelDir: irisModelDir, handlersPath, workers: 1, timeoutMs: 30_000 });
  await server.loaded;
});
after(async () => {
  await server.close();
  fixtures.close();
});

/** A raw HTTP request, so the test sees each chunk as it arrives and can stop reading. */
function open(behaviour: string, inferenceId: string, target: RunningServer = server): Promise<IncomingMessage> {
  const { port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: "127.0.0.1", port, path: "/invocations", method: "POST", headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": behaviour, "x-amzn-sagemaker-inference-id": inferenceId } },
      resolve,
    );
    outgoing.on("error", reject);
    outgoing.end("x");
  });
}

/** Reads a response chunk by chunk, pausing between reads (no chunk is emitted unheard). */
function chunksOf(response: IncomingMessage): { next(): Promise<string | undefined> } {
  const iterator = response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return {
    next: async () => {
      const next = await iterator.next();
      return next.done === true ? undefined : next.value.toString();
    },
  };
}

test("a handler's async iterable is written as a chunked body, each chunk as it is produced", async () => {
  // The headers go out with the first chunk (until then a failure can still have its own status).
  const opened = open("stepped=3", "step");
  await fixtures.next("the handler waiting for chunk 0", (event) => event.event === "waiting" && event.inferenceId === "step" && event["index"] === 0);
  fixtures.release("step/0");
  const response = await opened;
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers["transfer-encoding"], "chunked");
  assert.equal(response.headers["content-length"], undefined);
  assert.equal(response.headers["content-type"], "application/jsonlines");
  const chunks = chunksOf(response);
  assert.equal(await chunks.next(), `${JSON.stringify({ row: 0 })}\n`);
  for (const index of [1, 2]) {
    await fixtures.next(`the handler waiting for chunk ${index}`, (event) => event.event === "waiting" && event.inferenceId === "step" && event["index"] === index);
    fixtures.release(`step/${index}`);
    assert.equal(await chunks.next(), `${JSON.stringify({ row: index })}\n`, `chunk ${index} arrives once released`);
  }
  assert.equal(await chunks.next(), undefined, "the stream ends after the last chunk");
});

test("a client that stops reading holds the handler back: it is not run ahead to the end", async () => {
  const response = await open("big=200", "slow-reader");
  response.pause();
  // Let what the socket and the worker's window hold fill up.
  let produced = -1;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = fixtures.about("slow-reader").filter((event) => event.event === "yield").length;
    if (now === produced) break;
    produced = now;
  }
  assert.ok(produced < 50, `${produced} of 200 MiB-sized chunks were produced for a client that read nothing`);
  let received = 0;
  response.on("data", (chunk: Buffer) => (received += chunk.length));
  response.resume();
  await new Promise((resolve) => response.on("end", resolve));
  assert.equal(received, 200 * 1024 * 1024, "reading again received every chunk");
});

test("a gap between chunks past the stream's idle limit ends the connection without the final chunk, and the handler's signal fires", async () => {
  const impatient = await startTestServer({ modelDir: irisModelDir, handlersPath, workers: 1, timeoutMs: 30_000, streamIdleTimeoutMs: 400 });
  after(() => impatient.close());
  await impatient.loaded;
  const response = await open("stall=3", "stall", impatient);
  const chunks = chunksOf(response);
  assert.equal(await chunks.next(), `${JSON.stringify({ row: 0 })}\n`);
  await assert.rejects(chunks.next(), "the body breaks off instead of ending");
  await fixtures.next("the handler's abort", (event) => event.event === "aborted" && event.inferenceId === "stall");
});

test("a client that leaves mid-stream closes the handler's iterator and fires its signal", async () => {
  const opened = open("stepped=5", "leaves");
  await fixtures.next("the handler waiting for chunk 0", (event) => event.event === "waiting" && event.inferenceId === "leaves" && event["index"] === 0);
  fixtures.release("leaves/0");
  const response = await opened;
  await chunksOf(response).next();
  response.destroy();
  await fixtures.next("the iterator closed", (event) => event.event === "closed" && event.inferenceId === "leaves");
  await fixtures.next("the handler's abort", (event) => event.event === "aborted" && event.inferenceId === "leaves");
});

test("a failure before the first chunk keeps its status; one after it breaks the stream", async () => {
  const early = await fetch(`${server.url}/invocations`, { method: "POST", body: "x", headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": "fail-first" } });
  assert.equal(early.status, 422);
  assert.equal(((await early.json()) as { error: { code: string } }).error.code, "NOTHING");
  const midway = await fetch(`${server.url}/invocations`, { method: "POST", body: "x", headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": "fail-midway=3" } });
  assert.equal(midway.status, 200);
  await assert.rejects(midway.text(), "the body ends without the final chunk");
});
