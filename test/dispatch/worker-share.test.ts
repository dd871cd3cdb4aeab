/**
 * What a worker takes on: requests whose bodies together stay within 8 MiB (always one), and not
 * counting abandoned requests, or requests in flight past the stall time while others wait, once
 * its event loop shows they only wait on a promise.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { defaultConfig } from "../../src/config/server-config.js";
import { WorkerPool } from "../../src/dispatch/worker-pool.js";
import type { InvocationRequest, InvocationResult } from "../../src/pipeline/inference-pipeline.js";
import { testRuntimeConfig } from "../helpers/runtime-config.js";

const handlersFile = fileURLToPath(new URL("../fixtures/handlers/misbehaviours.ts", import.meta.url));
const config = testRuntimeConfig({ onnx: defaultConfig.onnx, batching: defaultConfig.batching });

function request(body: Buffer, customAttributes: string): InvocationRequest {
  return { body, contentType: "text/plain", accept: "application/json", customAttributes, inferenceId: customAttributes, targetModel: undefined, targetVariant: undefined, sessionId: undefined };
}

/** Most requests that ran at once, from the [started, ended] each sleeping answer reports. */
function mostAtOnce(results: readonly InvocationResult[]): number {
  const spans = results.map((result) => JSON.parse(Buffer.from(result.body as string | Uint8Array).toString()) as { started: number; ended: number });
  const events = spans.flatMap((span) => [[span.started, 1] as const, [span.ended, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let most = 0;
  for (const [, change] of events) most = Math.max(most, (running += change));
  return most;
}

describe("a worker's share of requests", () => {
  let pool: WorkerPool;
  before(async () => {
    // A recycle probe a minute away: only the probe after an abort can free the worker sooner.
    pool = new WorkerPool({ size: 1, log: pino({ level: "silent" }), recycleMs: 60_000, setup: { config, primeOnnxRuntime: false } });
    await pool.start();
    await pool.load({ name: "model", modelDir: fileURLToPath(new URL("../fixtures", import.meta.url)), handlersFile }, "all");
  });
  after(() => pool.close(1_000));

  it("takes four small requests at once, but 3 MiB bodies only two at a time (8 MiB in a worker)", async () => {
    const run = (size: number): Promise<InvocationResult[]> =>
      Promise.all(Array.from({ length: 4 }, () => pool.invoke("model", request(Buffer.alloc(size, 0x61), "sleep=300"), AbortSignal.timeout(10_000))));
    assert.equal(mostAtOnce(await run(100)), 4);
    assert.equal(mostAtOnce(await run(3 * 1024 * 1024)), 2);
  });

  it("serves a new request at once after four requests awaiting promises that never settle were abandoned", async () => {
    const abandoned = Array.from({ length: 4 }, () => pool.invoke("model", request(Buffer.from("x"), "never-settle"), AbortSignal.timeout(200)));
    for (const never of abandoned) await assert.rejects(never, { name: "TimeoutError" });
    const result = await pool.invoke("model", request(Buffer.from("x"), "whoami"), AbortSignal.timeout(5_000));
    assert.ok(Buffer.from(result.body as string | Uint8Array).toString().includes("threadId"));
  });
});

describe("a worker's share when its requests stall", () => {
  let pool: WorkerPool;
  before(async () => {
    pool = new WorkerPool({ size: 1, log: pino({ level: "silent" }), recycleMs: 60_000, stalledAfterMs: 200, setup: { config, primeOnnxRuntime: false } });
    await pool.start();
    await pool.load({ name: "model", modelDir: fileURLToPath(new URL("../fixtures", import.meta.url)), handlersFile }, "all");
  });
  after(() => pool.close(1_000));

  it("serves a waiting request while four requests awaiting promises that never settle are still in flight, once they pass the stall time", async () => {
    const stop = new AbortController();
    let neverSettled = 0;
    const stuck = Array.from({ length: 4 }, () =>
      pool.invoke("model", request(Buffer.from("x"), "never-settle"), stop.signal).finally(() => neverSettled++),
    );
    const result = await pool.invoke("model", request(Buffer.from("x"), "whoami"), AbortSignal.timeout(10_000));
    assert.ok(Buffer.from(result.body as string | Uint8Array).toString().includes("threadId"));
    assert.equal(neverSettled, 0, "the four stalled requests were still in flight when the fifth was answered");
    stop.abort(new Error("test over"));
    await Promise.allSettled(stuck);
  });
});
