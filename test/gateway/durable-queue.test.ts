import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DurableQueue, readQueueDirectory, type AsyncRequestRecord } from "../../src/gateway/async/queue.js";
import { ConfigurationError } from "../../src/errors.js";
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

const hexName = (inferenceId: string): string => `${Buffer.from(inferenceId, "utf8").toString("hex")}.json`;

async function withDirectory(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "byoc-queue-"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A pid no process has: a child that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "exit");
  return child.pid as number;
}

test("the queue keeps one file per request, named in lowercase hex, replaced atomically, and reloads them in order", { timeout: 60_000 }, async () => {
  await withDirectory(async (dir) => {
    const { log, records: logged } = captureLog();
    const queue = await DurableQueue.open(dir, log, "e");
    const changes: string[] = [];
    const unsubscribe = queue.onChange((changed) => changes.push(`${changed.inferenceId}:${changed.status}`));
    await Promise.all([
      queue.put(record("b/slash", "2026-01-01T00:00:02.000Z")),
      queue.put(record("a", "2026-01-01T00:00:01.000Z")),
      queue.put(record("a", "2026-01-01T00:00:01.000Z", { status: "running", attempts: 1 })),
      queue.put(record("a", "2026-01-01T00:00:01.000Z", { status: "completed", attempts: 1, completedTime: "2026-01-01T00:00:03.000Z" })),
      // Ids that differ only in case must not share a file on case-insensitive filesystems.
      queue.put(record("A", "2026-01-01T00:00:04.000Z")),
    ]);
    unsubscribe();
    assert.deepEqual(changes.filter((change) => change.startsWith("a:")), ["a:queued", "a:running", "a:completed"], "writes of one id apply in call order");
    assert.ok(changes.includes("b/slash:queued"));
    assert.deepEqual((await readdir(queue.directory)).sort(), [hexName("A"), hexName("a"), hexName("b/slash")].sort());
    assert.ok((await readdir(queue.directory)).every((name) => name === name.toLowerCase()));
    await queue.close();

    await writeFile(join(queue.directory, "half-written.json.abc.tmp"), "{");
    await writeFile(join(queue.directory, "corrupt.json"), "{not json");
    const reopened = await DurableQueue.open(dir, log, "e");
    assert.deepEqual(reopened.list().map((entry) => entry.inferenceId), ["a", "b/slash", "A"]);
    assert.equal(reopened.get("a")?.status, "completed");
    assert.deepEqual(reopened.list(["queued"]).map((entry) => entry.inferenceId), ["b/slash", "A"]);
    assert.ok(!(await readdir(queue.directory)).some((name) => name.endsWith(".tmp")), "temporary files are removed");
    assert.ok(logged.some((line) => line.msg === "unreadable async request record; left in place"));
    assert.deepEqual((await readQueueDirectory(dir)).map((entry) => entry.inferenceId), ["a", "b/slash", "A"]);
    assert.deepEqual(await readQueueDirectory(join(dir, "missing")), []);
    await reopened.close();
  });
});

test("a failed write changes nothing: reads, listings and listeners only ever see what is on disk", { timeout: 60_000 }, async () => {
  await withDirectory(async (dir) => {
    const { log } = captureLog();
    const queue = await DurableQueue.open(dir, log, "e");
    const seen: string[] = [];
    queue.onChange((changed) => seen.push(changed.status));
    await queue.put(record("w", "2026-01-01T00:00:00.000Z"));
    // The records directory disappears: every write fails, as on a full or broken disk.
    await rm(queue.directory, { recursive: true });
    await assert.rejects(queue.put(record("w", "2026-01-01T00:00:00.000Z", { status: "running", attempts: 1 })), { code: "ENOENT" });
    await assert.rejects(queue.put(record("new", "2026-01-01T00:00:01.000Z")), { code: "ENOENT" });
    assert.equal(queue.get("w")?.status, "queued", "the index keeps the last state on disk");
    assert.equal(queue.get("new"), undefined, "a request that was never written does not exist");
    assert.deepEqual(queue.list(["running"]), []);
    assert.deepEqual(seen, ["queued"]);

    await mkdir(queue.directory);
    await queue.put(record("w", "2026-01-01T00:00:00.000Z", { status: "running", attempts: 1 }));
    assert.equal(queue.get("w")?.status, "running");
    assert.deepEqual(queue.list(["queued"]), []);
    assert.deepEqual(seen, ["queued", "running"]);
    await queue.close();
  });
});

test("a listener that throws is logged; the write and the other listeners are unaffected", { timeout: 60_000 }, async () => {
  await withDirectory(async (dir) => {
    const { log, records: logged } = captureLog();
    const queue = await DurableQueue.open(dir, log, "e");
    const seen: string[] = [];
    queue.onChange(() => {
      throw new Error("listener bug");
    });
    queue.onChange((changed) => seen.push(changed.inferenceId));
    await queue.put(record("l", "2026-01-01T00:00:00.000Z"));
    assert.deepEqual(seen, ["l"]);
    const line = logged.find((entry) => entry.msg === "an async queue listener failed");
    assert.equal((line?.["err"] as { message: string } | undefined)?.message, "listener bug");
    assert.equal(line?.["inferenceId"], "l");
    await queue.close();
  });
});

test("pruning removes finished requests past the retention, keeping pending work and pending notifications", { timeout: 60_000 }, async () => {
  await withDirectory(async (dir) => {
    const { log } = captureLog();
    const queue = await DurableQueue.open(dir, log, "e");
    const old = "2026-01-01T00:00:00.000Z";
    await queue.put(record("done", old, { status: "completed", completedTime: old }));
    await queue.put(record("failed", old, { status: "failed", completedTime: old, notification: { status: "sent", attempts: 1 } }));
    await queue.put(record("notifying", old, { status: "failed", completedTime: old, notification: { status: "pending", attempts: 0 } }));
    await queue.put(record("waiting", old));
    await queue.put(record("recent", "2026-01-09T23:00:00.000Z", { status: "completed", completedTime: "2026-01-09T23:00:00.000Z" }));
    const removed = await queue.prune(24 * 3600 * 1000, Date.parse("2026-01-10T00:00:00.000Z"));
    assert.equal(removed, 2);
    assert.deepEqual(queue.list().map((entry) => entry.inferenceId).sort(), ["notifying", "recent", "waiting"]);
    assert.deepEqual(queue.list(["completed", "failed"]).map((entry) => entry.inferenceId).sort(), ["notifying", "recent"]);
    assert.equal((await readQueueDirectory(dir)).length, 3);
    await queue.close();
  });
});

test("one queue per directory: a live owner's lock is refused naming the directory and the pid; a dead owner's is taken over", { timeout: 60_000 }, async () => {
  await withDirectory(async (dir) => {
    const { log } = captureLog();
    const first = await DurableQueue.open(dir, log, "e");
    await assert.rejects(DurableQueue.open(dir, log, "e"), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.ok(error.message.includes(`The async queue directory ${dir} is in use by another gateway (pid ${process.pid}`), error.message);
      return true;
    });
    await first.close();
    await assert.doesNotReject(async () => (await DurableQueue.open(dir, log, "e")).close(), "closing releases the lock");

    const lockFile = join(dir, "gateway.lock");
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      await writeFile(lockFile, `${other.pid}\n`);
      await assert.rejects(DurableQueue.open(dir, log, "e"), new RegExp(`in use by another gateway \\(pid ${other.pid}, ${lockFile}\\).*delete ${lockFile}`));
    } finally {
      other.kill("SIGKILL");
      await once(other, "exit");
    }

    // Killed gateways leave their lock behind; in a container the next one often has the same pid (1).
    for (const stale of [await deadPid(), process.pid, "" /* killed before it wrote its pid */]) {
      await writeFile(lockFile, stale === "" ? "" : `${stale}\n`);
      const queue = await DurableQueue.open(dir, log, "e");
      assert.equal(await readFile(lockFile, "utf8"), `${process.pid}\n`);
      await queue.close();
    }
    await assert.rejects(readFile(lockFile), { code: "ENOENT" }, "close removes the lock file");
  });
});

test("records of another endpoint are skipped with a warning and left on disk; files of earlier versions get today's name", { timeout: 60_000 }, async () => {
  await withDirectory(async (dir) => {
    const requests = join(dir, "requests");
    await mkdir(requests, { recursive: true });
    await writeFile(join(requests, `${hexName("theirs")}`), JSON.stringify(record("theirs", "2026-01-01T00:00:00.000Z", { endpointName: "other", status: "running" })));
    const legacyName = `${Buffer.from("mine").toString("base64url")}.json`;
    await writeFile(join(requests, legacyName), JSON.stringify(record("mine", "2026-01-01T00:00:01.000Z")));
    const { log, records: logged } = captureLog();
    const queue = await DurableQueue.open(dir, log, "e");
    assert.deepEqual(queue.list().map((entry) => entry.inferenceId), ["mine"]);
    const warning = logged.find((line) => line.level === "warn" && /other endpoints/.test(line.msg));
    assert.deepEqual({ skipped: warning?.["skipped"], endpointNames: warning?.["endpointNames"], queueDir: warning?.["queueDir"] }, { skipped: 1, endpointNames: ["other"], queueDir: dir });
    assert.deepEqual((await readdir(requests)).sort(), [hexName("mine"), hexName("theirs")].sort());
    await queue.put(record("mine", "2026-01-01T00:00:01.000Z", { status: "running", attempts: 1 }));
    assert.equal((await readQueueDirectory(dir)).filter((entry) => entry.inferenceId === "mine").length, 1, "one file per id");
    await queue.close();
  });
});
