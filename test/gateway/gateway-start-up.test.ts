import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadAsyncConfig } from "../../src/config/async-config.js";
import { startAsyncGateway } from "../../src/gateway/index.js";
import { InProcessInvoker, type Invoker } from "../../src/gateway/invoker.js";
import { DurableQueue, readQueueDirectory, type AsyncRequestRecord } from "../../src/gateway/async/queue.js";
import { ConfigurationError } from "../../src/errors.js";
import { behavioursHandlers } from "../helpers/async-stack.js";
import { captureLog } from "../helpers/capture-log.js";
import { s3Credentials, startTestS3 } from "../helpers/s3-server.js";
import { startTestServer } from "../helpers/server.js";

const leftOver = (inferenceId: string, endpointName: string, bucket: string, status: AsyncRequestRecord["status"]): AsyncRequestRecord => ({
  inferenceId,
  endpointName,
  status,
  receivedTime: new Date().toISOString(),
  inputLocation: `s3://${bucket}/in/x.txt`,
  outputLocation: `s3://${bucket}/out/${inferenceId}.out`,
  failureLocation: undefined,
  contentType: "text/plain",
  accept: undefined,
  customAttributes: undefined,
  requestTtlSeconds: 21_600,
  invocationTimeoutSeconds: 60,
  attempts: 0,
});

test("a gateway that cannot listen starts nothing: no request runs, the queue directory is released for the next start", { timeout: 60_000 }, async () => {
  const s3 = await startTestS3();
  const server = await startTestServer({ handlersPath: behavioursHandlers });
  const queueDir = await mkdtemp(join(tmpdir(), "byoc-start-up-"));
  const blocker = createServer().listen(0, "127.0.0.1");
  await once(blocker, "listening");
  try {
    await s3.put("in/x.txt", "hello", "text/plain");
    const { log, records: logged } = captureLog();
    const seeded = await DurableQueue.open(queueDir, log, "mine");
    await seeded.put(leftOver("left-over", "mine", s3.bucket, "queued"));
    await seeded.put(leftOver("not-mine", "someone-elses", s3.bucket, "running"));
    await seeded.close();

    // Counts the calls that reach the real in-process invoker.
    const real = new InProcessInvoker(server, log);
    let calls = 0;
    const invoker: Invoker = {
      target: real.target,
      invoke: (request, signal) => {
        calls++;
        return real.invoke(request, signal);
      },
      ready: () => real.ready(),
    };
    const config = (port: number) =>
      loadAsyncConfig({}, { endpointName: "mine", s3OutputPath: `s3://${s3.bucket}/out`, s3Endpoint: s3.endpoint, queueDir, port, host: "127.0.0.1", retryBaseMs: 20, retryMaxMs: 100 });

    await assert.rejects(startAsyncGateway({ config: config((blocker.address() as AddressInfo).port), invoker, log, credentials: s3Credentials }), { code: "EADDRINUSE" });
    // Nothing signals "did not run": give a leaked worker time to show itself (it would start at once).
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(calls, 0, "the worker of the failed start never ran");
    assert.equal((await readQueueDirectory(queueDir)).find((record) => record.inferenceId === "left-over")?.status, "queued");

    const gateway = await startAsyncGateway({ config: config(0), invoker, log, credentials: s3Credentials });
    try {
      const done = await gateway.waitFor("left-over");
      assert.equal(done.status, "completed");
      assert.equal(calls, 1);
      assert.equal(gateway.get("not-mine"), undefined, "another endpoint's request is not this gateway's");
      assert.ok(logged.some((line) => line.level === "warn" && /other endpoints/.test(line.msg) && line["skipped"] === 1));

      await assert.rejects(startAsyncGateway({ config: config(0), invoker, log, credentials: s3Credentials }), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, new RegExp(`The async queue directory ${queueDir} is in use by another gateway \\(pid ${process.pid}`));
        return true;
      });
      assert.equal(gateway.get("left-over")?.status, "completed", "the running gateway is unaffected");
    } finally {
      await gateway.close();
    }
    const notMine = (await readQueueDirectory(queueDir)).find((record) => record.inferenceId === "not-mine");
    assert.equal(notMine?.status, "running", "left on disk untouched");
  } finally {
    blocker.close();
    await server.close();
    await s3.close();
    await rm(queueDir, { recursive: true, force: true });
  }
});
