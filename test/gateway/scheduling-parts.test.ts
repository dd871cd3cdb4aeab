import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { test } from "node:test";
import fc from "fast-check";
import { CircuitBreaker } from "../../src/gateway/async/circuit-breaker.js";
import { MinHeap } from "../../src/gateway/async/min-heap.js";
import { RetrySummary } from "../../src/gateway/async/retry-summary.js";
import { captureLog } from "../helpers/capture-log.js";

test("MinHeap pops in the order a sort gives, whatever the pushes and pops in between", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant("pop" as const)), { maxLength: 200 }), (operations) => {
      const heap = new MinHeap<number>((a, b) => a - b);
      const model: number[] = [];
      for (const operation of operations) {
        if (operation === "pop") {
          model.sort((a, b) => a - b);
          assert.equal(heap.pop(), model.shift());
        } else {
          heap.push(operation);
          model.push(operation);
        }
        assert.equal(heap.size, model.length);
        assert.equal(heap.peek(), model.length === 0 ? undefined : Math.min(...model));
      }
    }),
  );
});

test("CircuitBreaker: closed until a failure, then probes spaced by growing backoff, closed again by any answer", () => {
  let now = 1_000;
  let recoveries = 0;
  const { log, records } = captureLog();
  const breaker = new CircuitBreaker({ dependency: "S3", backoff: { baseMs: 100, maxMs: 1_000, random: () => 0 }, now: () => now, log, onRecovery: () => recoveries++ });
  breaker.succeeded();
  assert.equal(breaker.isOpen, false);
  assert.equal(records.length, 0, "an answer while closed says nothing");

  const gaps: number[] = [];
  for (let failure = 0; failure < 7; failure++) {
    breaker.failed(new Error("ECONNREFUSED"));
    gaps.push(breaker.probeAt - now);
    now = breaker.probeAt;
  }
  assert.equal(breaker.isOpen, true);
  // At least half of base * 2^n, capped at half of maxMs (random() = 0 is the shortest wait).
  assert.deepEqual(gaps, [50, 100, 200, 400, 500, 500, 500]);
  assert.equal(records.filter((record) => record.level === "warn").length, 1, "one line when it opens, not one per failure");

  now += 2_500;
  breaker.succeeded();
  assert.equal(breaker.isOpen, false);
  assert.equal(recoveries, 1);
  const recovered = records.at(-1);
  assert.equal(recovered?.msg, "S3 answers again; waiting work resumes");
  assert.equal(recovered?.["failedAttempts"], 7);
  assert.equal(recovered?.["outageSeconds"], 5, "2.25 s of probes and 2.5 s more, rounded");
});

test("RetrySummary logs one line per interval with counts and the last error of each kind, and nothing when nothing failed", async () => {
  const { log, records } = captureLog();
  const summary = new RetrySummary(log, "async worker", 30);
  for (let index = 0; index < 5; index++) summary.record("s3-read", new Error(`refused ${index}`));
  summary.record("sns", "throttled");
  await delay(80);
  assert.equal(records.length, 1);
  assert.deepEqual(records[0]?.["retries"], { "s3-read": 5, sns: 1 });
  assert.deepEqual(records[0]?.["lastErrors"], { "s3-read": "Error: refused 4", sns: "throttled" });
  assert.equal(records[0]?.["component"], "async worker");
  summary.record("s3-write", new Error("down"));
  summary.close();
  assert.equal(records.length, 2, "close logs what is left");
  await delay(60);
  assert.equal(records.length, 2, "and stops");
});
