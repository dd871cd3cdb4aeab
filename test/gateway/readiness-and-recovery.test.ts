import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AsyncWorker } from "../../src/gateway/async/async-worker.js";
import { InvocationDroppedError, InvokerUnavailableError } from "../../src/gateway/errors.js";
import { HttpInvoker } from "../../src/gateway/invoker.js";
import { createSnsClient, Notifier } from "../../src/gateway/async/notifications.js";
import { DurableQueue, type AsyncRequestRecord } from "../../src/gateway/async/queue.js";
import { createS3Client } from "../../src/gateway/async/s3-transfer.js";
import { captureLog, type LogRecord } from "../helpers/capture-log.js";
import { s3Credentials, startTestS3, type TestS3 } from "../helpers/s3-server.js";
import { startTestSns, type TestSns } from "../helpers/sns-endpoint.js";

const successTopic = "arn:aws:sns:us-east-1:000000000000:recovery-success";
const errorTopic = "arn:aws:sns:us-east-1:000000000000:recovery-error";

// Unhandled rejections would kill a real gateway: any here fails the test that caused it.
const unhandled: unknown[] = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

/**
 * A SageMaker-style container on loopback: `GET /ping` answers 200 once `ready` is set (503
 * before, as while a model loads); `POST /invocations` echoes the body, or with custom
 * attributes `drop` reads the request and closes the connection without answering (a container
 * crashing on the payload), `drop-mid-answer` closes in the middle of its answer, `chunked`
 * answers without a Content-Length, `no-content` answers 204 announcing a length.
 */
interface TestContainer {
  readonly url: string;
  ready: boolean;
  readonly pings: number;
  readonly invocations: number;
  close(): Promise<void>;
}

async function startTestContainer(): Promise<TestContainer> {
  let pings = 0;
  let invocations = 0;
  const state = { ready: false };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.method === "GET" && request.url === "/ping") {
      pings++;
      response.writeHead(state.ready ? 200 : 503, { "content-type": "application/json" }).end(state.ready ? '{"status":"ready"}' : '{"error":"loading"}');
      return;
    }
    if (request.method !== "POST" || request.url !== "/invocations") {
      response.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      invocations++;
      const body = Buffer.concat(chunks);
      const behaviour = request.headers["x-amzn-sagemaker-custom-attributes"];
      if (behaviour === "drop") {
        request.socket.destroy();
      } else if (behaviour === "drop-mid-answer") {
        response.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
        response.write("only ten b", () => request.socket.destroy());
      } else if (behaviour === "no-content") {
        response.writeHead(204, { "content-length": "5" }).end();
      } else if (behaviour === "chunked") {
        response.writeHead(200, { "content-type": "text/plain" });
        response.write("chunked: ");
        response.end(body);
      } else {
        response.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length + 6) }).end(Buffer.concat([Buffer.from("echo: "), body]));
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/invocations`,
    get ready() {
      return state.ready;
    },
    set ready(value: boolean) {
      state.ready = value;
    },
    get pings() {
      return pings;
    },
    get invocations() {
      return invocations;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Polls `check` every 10 ms; fails the test after `timeoutMs` saying what it waited for. */
async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let s3: TestS3;
let sns: TestSns;

before(async () => {
  s3 = await startTestS3();
  sns = await startTestSns([successTopic, errorTopic], s3Credentials);
  await s3.put("input/recovery.txt", "payload", "text/plain");
});

after(async () => {
  await s3.close();
  await sns.close();
});

interface Harness {
  readonly queue: DurableQueue;
  readonly worker: AsyncWorker;
  readonly notifier: Notifier;
  readonly logs: LogRecord[];
  readonly container: TestContainer;
  logged(msg: string, inferenceId: string): LogRecord[];
  close(): Promise<void>;
}

/**
 * A worker on a fresh queue directory holding `records`, calling a {@link TestContainer} over HTTP,
 * with the test S3 and SNS; `now` is its clock (the real one unless a test sets the time).
 */
async function startHarness(records: AsyncRequestRecord[], now: () => number = Date.now): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "byoc-recovery-"));
  const { log, records: logs } = captureLog();
  const queue = await DurableQueue.open(dir, log, "recovery");
  for (const record of records) await queue.put(record);
  const container = await startTestContainer();
  const endpoints = { region: "us-east-1", s3Endpoint: s3.endpoint, s3ForcePathStyle: true, snsEndpoint: sns.endpoint, runtimeEndpoint: undefined };
  const s3Client = createS3Client(endpoints, s3Credentials);
  const backoff = { baseMs: 20, maxMs: 100 };
  const notifier = new Notifier({ sns: createSnsClient(endpoints, s3Credentials), queue, config: { region: "us-east-1", successTopic, errorTopic }, log, backoff });
  const worker = new AsyncWorker({
    queue,
    invoker: new HttpInvoker(container.url),
    s3: s3Client,
    notifier,
    config: { maxConcurrentInvocations: 2, maxPayloadBytes: 1024 * 1024, includeInferenceResponseIn: ["SUCCESS_NOTIFICATION_TOPIC"], retryBaseMs: 20, retryMaxMs: 100 },
    log,
    now,
  });
  return {
    queue,
    worker,
    notifier,
    logs,
    container,
    logged: (msg, inferenceId) => logs.filter((line) => line.msg === msg && line["inferenceId"] === inferenceId),
    async close() {
      await worker.close(1_000);
      await notifier.close();
      s3Client.destroy();
      await queue.close();
      await container.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const request = (inferenceId: string, extra: Partial<AsyncRequestRecord> = {}): AsyncRequestRecord => ({
  inferenceId,
  endpointName: "recovery",
  status: "queued",
  receivedTime: new Date().toISOString(),
  inputLocation: `s3://${s3.bucket}/input/recovery.txt`,
  outputLocation: `s3://${s3.bucket}/output/${inferenceId}.out`,
  failureLocation: `s3://${s3.bucket}/failure/${inferenceId}-error.out`,
  contentType: "text/plain",
  accept: undefined,
  customAttributes: undefined,
  requestTtlSeconds: 21_600,
  invocationTimeoutSeconds: 60,
  attempts: 0,
  ...extra,
});

test("after a restart, requests wait for the model without reading their input; one found running runs again even past its TTL", { timeout: 60_000 }, async () => {
  const longAgo = new Date(Date.now() - 2 * 3600 * 1000).toISOString();
  const harness = await startHarness([
    request("was-running", { status: "running", attempts: 1, receivedTime: longAgo, requestTtlSeconds: 60, startedTime: longAgo }),
    request("was-queued"),
  ]);
  const downloads = s3.requestsFor("GET", "input/recovery.txt").length;
  try {
    harness.worker.start();
    await until("both requests to wait for the model", () =>
      ["was-running", "was-queued"].every((id) => harness.logged("the model is not ready; the request waits for it", id).length === 1),
    );
    await until("a few readiness checks", () => harness.container.pings >= 6);
    assert.equal(s3.requestsFor("GET", "input/recovery.txt").length, downloads, "nothing is downloaded while the model loads");
    assert.equal(harness.container.invocations, 0);

    harness.container.ready = true;
    await until("both to complete", () => ["was-running", "was-queued"].every((id) => harness.queue.get(id)?.status === "completed"));
    assert.equal(s3.requestsFor("GET", "input/recovery.txt").length, downloads + 2, "each input read once, once the model is ready");
    assert.equal(harness.queue.get("was-running")?.attempts, 2, "the recovered request ran again instead of expiring");
    assert.equal((await s3.get("output/was-running.out"))?.body.toString(), "echo: payload");
  } finally {
    await harness.close();
  }
  assert.deepEqual(unhandled, []);
});

test("a request still waiting for the model past its TTL fails as expired, saying why", { timeout: 60_000 }, async () => {
  // The worker's clock, set by the test: received at `receivedAt`, the request expires 60 s later.
  const receivedAt = Date.parse("2030-01-01T00:00:00.000Z");
  let clock = receivedAt;
  const harness = await startHarness([request("never-ready", { receivedTime: new Date(receivedAt).toISOString(), requestTtlSeconds: 60 })], () => clock);
  const downloads = s3.requestsFor("GET", "input/recovery.txt").length;
  try {
    harness.worker.start();
    await until("the request to wait for the model", () => harness.logged("the model is not ready; the request waits for it", "never-ready").length === 1);
    clock = receivedAt + 59_999;
    const pings = harness.container.pings;
    await until("more readiness checks one millisecond before the TTL", () => harness.container.pings >= pings + 3);
    assert.equal(harness.queue.get("never-ready")?.status, "queued", "still waiting 1 ms before its TTL");
    clock = receivedAt + 60_000;
    await until("the request to fail", () => harness.queue.get("never-ready")?.status === "failed");
    assert.equal(
      harness.queue.get("never-ready")?.failureReason,
      "ClientError: Request expired: not processed within RequestTTLSeconds (60 s) of being received; last error: The model did not become ready",
    );
    assert.equal(harness.queue.get("never-ready")?.attempts, 0);
    assert.equal(s3.requestsFor("GET", "input/recovery.txt").length, downloads, "never downloaded");
  } finally {
    await harness.close();
  }
});

test("closing does not wait for requests that wait for the model: they stay queued for the next start", { timeout: 60_000 }, async () => {
  const harness = await startHarness([request("waiting-at-shutdown")]);
  try {
    harness.worker.start();
    await until("the request to wait for the model", () => harness.logged("the model is not ready; the request waits for it", "waiting-at-shutdown").length === 1);
    const started = Date.now();
    await harness.worker.close(20_000);
    assert.ok(Date.now() - started < 5_000, `close took ${Date.now() - started} ms`);
    assert.equal(harness.queue.get("waiting-at-shutdown")?.status, "queued");
    assert.equal(harness.queue.get("waiting-at-shutdown")?.attempts, 0);
  } finally {
    await harness.close();
  }
});

test("a container that closes the connection after taking the request is retried a few times, then the request fails", { timeout: 60_000 }, async () => {
  const harness = await startHarness([request("crashes-it", { customAttributes: "drop" })]);
  harness.container.ready = true;
  try {
    harness.worker.start();
    await until("the request to fail", () => harness.queue.get("crashes-it")?.status === "failed");
    const record = harness.queue.get("crashes-it");
    assert.equal(harness.container.invocations, 3, "three runs, not retries until the TTL");
    assert.equal(record?.attempts, 3);
    assert.equal(record?.droppedInvocations, 3);
    assert.match(record?.failureReason ?? "", /^ServerError: The model at http:\/\/127\.0\.0\.1:\d+\/invocations closed the connection without answering: .* \(3 times; the payload may crash the container\)$/);
    assert.equal(JSON.parse((await s3.get("failure/crashes-it-error.out"))?.body.toString() ?? "{}").error.code, "CONTAINER_DROPPED_REQUEST");
    assert.equal(harness.logged("transient failure; the request goes back to the queue", "crashes-it").length, 2);
  } finally {
    await harness.close();
  }
});

test("a failed write of the request's state is retried with backoff: the request is not stranded and completes once the disk is back", { timeout: 60_000 }, async () => {
  const harness = await startHarness([request("disk-full")]);
  harness.container.ready = true;
  const requests = harness.queue.directory;
  try {
    await rm(requests, { recursive: true });
    harness.worker.start();
    await until("a few failed writes", () => harness.logged("could not save the async request's state; retrying", "disk-full").length >= 3);
    assert.equal(harness.queue.get("disk-full")?.status, "queued", "its last state on disk");
    assert.equal(harness.container.invocations, 0, "nothing runs before its state is saved");
    await mkdir(requests);
    await until("the request to complete", () => harness.queue.get("disk-full")?.status === "completed");
    assert.equal(harness.container.invocations, 1);
    assert.equal(harness.queue.get("disk-full")?.attempts, 1);
  } finally {
    await harness.close();
  }
  assert.deepEqual(unhandled, []);
});

test("a notification whose state cannot be saved is retried, never an unhandled rejection; once sent, the inline body is dropped", { timeout: 60_000 }, async () => {
  const finished = request("notify-disk", {
    status: "completed",
    attempts: 1,
    completedTime: new Date().toISOString(),
    responseContentType: "text/plain",
    inlineResponse: Buffer.from("inline body").toString("base64"),
    notification: { status: "pending", attempts: 0 },
  });
  const harness = await startHarness([finished]);
  try {
    await rm(harness.queue.directory, { recursive: true });
    harness.notifier.send("notify-disk");
    await until("failed state writes", () => harness.logs.filter((line) => line.msg === "could not save the notification's state; retrying").length >= 2);
    assert.equal(sns.published.filter((message) => message.message.includes('"notify-disk"')).length, 1);
    await mkdir(harness.queue.directory);
    await until("the notification to be recorded as sent", () => harness.queue.get("notify-disk")?.notification?.status === "sent");
    assert.equal(harness.queue.get("notify-disk")?.inlineResponse, undefined);
    const [file] = await readdir(harness.queue.directory);
    const onDisk = JSON.parse(await readFile(join(harness.queue.directory, file as string), "utf8")) as AsyncRequestRecord;
    assert.equal(onDisk.inlineResponse, undefined, "the body is not kept on disk either");
    assert.equal(onDisk.notification?.status, "sent");
  } finally {
    await harness.close();
  }
  assert.deepEqual(unhandled, []);
});

test("the HTTP invoker: readiness from the container's /ping, whole answers with or without Content-Length, dropped answers told apart from unreachable containers", { timeout: 30_000 }, async () => {
  const container = await startTestContainer();
  const invoke = (invoker: HttpInvoker, customAttributes: string) =>
    invoker.invoke(
      { body: Buffer.from("x"), contentType: "text/plain", accept: undefined, customAttributes, inferenceId: "h", targetModel: undefined, targetVariant: undefined, sessionId: undefined },
      AbortSignal.timeout(5_000),
    );
  try {
    const invoker = new HttpInvoker(container.url);
    assert.equal(await invoker.ready(AbortSignal.timeout(5_000)), false, "503 while loading");
    container.ready = true;
    assert.equal(await invoker.ready(AbortSignal.timeout(5_000)), true);
    assert.equal(await new HttpInvoker(container.url.replace("/invocations", "/prefix/invocations")).ready(AbortSignal.timeout(5_000)), false, "asks /prefix/ping: 404");
    assert.equal(await new HttpInvoker("http://127.0.0.1:9/invocations").ready(AbortSignal.timeout(5_000)), false, "unreachable");
    assert.equal(((await invoke(invoker, "echo")).body as Buffer).toString(), "echo: x");
    assert.equal(((await invoke(invoker, "chunked")).body as Buffer).toString(), "chunked: x");
    assert.equal(((await invoke(invoker, "no-content")).body as Uint8Array).length, 0, "a 204 announcing a length has no body: no unwritten memory passed on");
    await assert.rejects(invoke(invoker, "drop"), (error: unknown) => error instanceof InvocationDroppedError);
    await assert.rejects(invoke(invoker, "drop-mid-answer"), (error: unknown) => error instanceof InvocationDroppedError);
    await assert.rejects(invoke(new HttpInvoker("http://127.0.0.1:9/invocations"), "echo"), (error: unknown) => error instanceof InvokerUnavailableError);
  } finally {
    await container.close();
  }
});
