import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { InvokeEndpointAsyncCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { readQueueDirectory } from "../../src/gateway/async/queue.js";
import { asyncChildEnv, spawnAsyncServe } from "../helpers/async-child.js";
import { behavioursHandlers } from "../helpers/async-stack.js";
import { startTestS3 } from "../helpers/s3-server.js";

/** Calls `check` every 50 ms until it is true; fails after `timeoutMs` saying what it waited for. */
async function poll(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("a request accepted with 202 survives SIGKILL: after a restart on the same queue directory it runs again and its result arrives", { timeout: 180_000 }, async () => {
  const s3 = await startTestS3();
  const queueDir = await mkdtemp(join(tmpdir(), "byoc-kill-queue-"));
  const env = asyncChildEnv(s3.endpoint, s3.bucket, queueDir);
  try {
    await s3.put("input/kill.txt", "survive", "text/plain");
    const first = await spawnAsyncServe(env, behavioursHandlers);
    const runtime = new SageMakerRuntimeClient({ endpoint: first.gatewayUrl, region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
    try {
      const accepted = await runtime.send(
        new InvokeEndpointAsyncCommand({
          EndpointName: "child-endpoint",
          InputLocation: `s3://${s3.bucket}/input/kill.txt`,
          ContentType: "text/plain",
          CustomAttributes: "sleep=1500",
          InferenceId: "killed-1",
        }),
      );
      assert.equal(accepted.$metadata.httpStatusCode, 202);
      // Kill once the file on disk says "running".
      await poll("the record on disk to say running", async () => (await readQueueDirectory(queueDir))[0]?.status === "running");
    } finally {
      runtime.destroy();
      first.child.kill("SIGKILL");
    }
    const [, signal] = await first.exit;
    assert.equal(signal, "SIGKILL");
    const [left] = await readQueueDirectory(queueDir);
    assert.equal(left?.inferenceId, "killed-1");
    assert.equal(left?.status, "running", "killed mid-flight: the file says so");
    assert.equal(await s3.exists("output/killed-1.out"), false);

    const second = await spawnAsyncServe(env, behavioursHandlers);
    try {
      await poll("the request to complete after the restart", async () => {
        const record = (await (await fetch(`${second.gatewayUrl}/async-requests/killed-1`)).json()) as { status: string; attempts: number; failureReason?: string };
        assert.notEqual(record.status, "failed", record.failureReason);
        if (record.status !== "completed") return false;
        // At least once: it ran again, exactly once more (it waits for the model to load without an attempt).
        assert.equal(record.attempts, 2);
        return true;
      });
      assert.deepEqual(JSON.parse((await s3.get("output/killed-1.out"))?.body.toString() ?? "{}"), { slept: 1500 });
    } finally {
      second.child.kill("SIGTERM");
    }
    const [code] = await second.exit;
    assert.equal(code, 0, "SIGTERM stops the gateway and the server cleanly");
  } finally {
    await s3.close();
    await rm(queueDir, { recursive: true, force: true });
  }
});
