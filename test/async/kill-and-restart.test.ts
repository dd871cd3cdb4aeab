import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { InvokeEndpointAsyncCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { readQueueDirectory } from "../../src/async/queue.js";
import { asyncChildEnv, spawnAsyncServe } from "../helpers/async-child.js";
import { behavioursHandlers } from "../helpers/async-stack.js";
import { startTestS3 } from "../helpers/s3-server.js";

test("a request accepted with 202 survives SIGKILL: after a restart on the same queue directory it runs again and its result arrives", async () => {
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
      // Kill once the file on disk says "running" (the gateway's index changes a moment earlier).
      for (;;) {
        const [record] = await readQueueDirectory(queueDir);
        if (record?.status === "running") break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
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
      for (;;) {
        const record = (await (await fetch(`${second.gatewayUrl}/async-requests/killed-1`)).json()) as { status: string; attempts: number };
        if (record.status === "completed") {
          // At least once: it ran again (more than twice when it found the model still loading and waited).
          assert.ok(record.attempts >= 2, `attempts ${record.attempts}`);
          break;
        }
        assert.notEqual(record.status, "failed");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
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
