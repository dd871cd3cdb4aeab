import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DurableQueue, readQueueDirectory, type AsyncRequestRecord } from "../../src/async/queue.js";
import { captureLog } from "../helpers/capture-log.js";

const record = (inferenceId: string, receivedTime: string, extra: Partial<AsyncRequestRecord> = {}): AsyncRequestRecord => ({
  inferenceId,
  endpointName: "e",
  status: "queued",
  receivedTime,
  inputLocation: "s3://b/in",
  outputLocation: `s3://b/out/${inferenceId}.out`,
  failureLocation: undefined,
  contentType: undefined,
  accept: undefined,
  customAttributes: undefined,
  requestTtlSeconds: 60,
  invocationTimeoutSeconds: 900,
  attempts: 0,
  ...extra,
});

test("the queue keeps one file per request, replaced atomically, and reloads them in order after a restart", async () => {
  const dir = await mkdtemp(join(tmpdir(), "byoc-queue-"));
  try {
    const { log, records: logged } = captureLog();
    const queue = await DurableQueue.open(dir, log);
    const changes: string[] = [];
    const unsubscribe = queue.onChange((changed) => changes.push(`${changed.inferenceId}:${changed.status}`));
    await Promise.all([
      queue.put(record("b/slash", "2026-01-01T00:00:02.000Z")),
      queue.put(record("a", "2026-01-01T00:00:01.000Z")),
      queue.put(record("a", "2026-01-01T00:00:01.000Z", { status: "running", attempts: 1 })),
      queue.put(record("a", "2026-01-01T00:00:01.000Z", { status: "completed", attempts: 1, completedTime: "2026-01-01T00:00:03.000Z" })),
    ]);
    await queue.settled("a");
    unsubscribe();
    assert.deepEqual(changes.filter((change) => change.startsWith("a:")), ["a:queued", "a:running", "a:completed"], "writes of one id apply in call order");
    assert.ok(changes.includes("b/slash:queued"));
    const files = await readdir(queue.directory);
    assert.deepEqual(files.sort(), [`${Buffer.from("a").toString("base64url")}.json`, `${Buffer.from("b/slash").toString("base64url")}.json`]);

    await writeFile(join(queue.directory, "half-written.json.abc.tmp"), "{");
    await writeFile(join(queue.directory, "corrupt.json"), "{not json");
    const reopened = await DurableQueue.open(dir, log);
    assert.deepEqual(reopened.list().map((entry) => entry.inferenceId), ["a", "b/slash"]);
    assert.equal(reopened.get("a")?.status, "completed");
    assert.deepEqual(reopened.list(["queued"]).map((entry) => entry.inferenceId), ["b/slash"]);
    assert.ok(!(await readdir(queue.directory)).some((name) => name.endsWith(".tmp")), "temporary files are removed");
    assert.ok(logged.some((line) => line.msg === "unreadable async request record; left in place"));
    assert.deepEqual((await readQueueDirectory(dir)).map((entry) => entry.inferenceId), ["a", "b/slash"]);
    assert.deepEqual(await readQueueDirectory(join(dir, "missing")), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("pruning removes finished requests past the retention, keeping pending work and pending notifications", async () => {
  const dir = await mkdtemp(join(tmpdir(), "byoc-queue-"));
  try {
    const { log } = captureLog();
    const queue = await DurableQueue.open(dir, log);
    const old = "2026-01-01T00:00:00.000Z";
    await queue.put(record("done", old, { status: "completed", completedTime: old }));
    await queue.put(record("failed", old, { status: "failed", completedTime: old, notification: { status: "sent", attempts: 1 } }));
    await queue.put(record("notifying", old, { status: "failed", completedTime: old, notification: { status: "pending", attempts: 0 } }));
    await queue.put(record("waiting", old));
    await queue.put(record("recent", "2026-01-09T23:00:00.000Z", { status: "completed", completedTime: "2026-01-09T23:00:00.000Z" }));
    const removed = await queue.prune(24 * 3600 * 1000, Date.parse("2026-01-10T00:00:00.000Z"));
    assert.equal(removed, 2);
    assert.deepEqual(queue.list().map((entry) => entry.inferenceId).sort(), ["notifying", "recent", "waiting"]);
    assert.equal((await readQueueDirectory(dir)).length, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
