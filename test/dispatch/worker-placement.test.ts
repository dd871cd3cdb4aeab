import assert from "node:assert/strict";
import { after, test } from "node:test";
import { WorkerPool } from "../../src/dispatch/worker-pool.js";
import type { InvocationRequest } from "../../src/pipeline/inference-pipeline.js";
import { captureLog } from "../helpers/capture-log.js";
import { irisModelDir, setosaRow } from "../helpers/server.js";
import { testRuntimeConfig } from "../helpers/runtime-config.js";

const config = testRuntimeConfig();
const { log, records } = captureLog();
const pool = new WorkerPool({ size: 2, log, recycleMs: 5_000, setup: { config, primeOnnxRuntime: false } });
after(() => pool.close(1_000));

const request: InvocationRequest = {
  body: Buffer.from(JSON.stringify([setosaRow])),
  contentType: "application/json",
  accept: "application/json",
  customAttributes: undefined,
  inferenceId: "placement",
  targetModel: undefined,
  targetVariant: undefined,
  sessionId: undefined,
};

async function loadOne(name: string): Promise<number> {
  await pool.load({ name, modelDir: irisModelDir, handlersFile: undefined }, 1);
  const line = records.findLast((record) => record.msg === "model loaded" && record["model"] === name);
  return (line?.["workers"] as number[])[0] as number;
}

test("a model loaded on one worker goes to the worker that served the fewest requests lately, before the one hosting the fewest models", async () => {
  await pool.start();
  assert.equal(await loadOne("a"), 0);
  assert.equal(await loadOne("c"), 1);
  assert.equal(await loadOne("d"), 0, "a tie in recent requests and models goes to the lower worker id");
  // Worker 1 hosts one model, worker 0 two; worker 1 has just served twenty requests.
  for (let sent = 0; sent < 20; sent++) await pool.invoke("c", request, AbortSignal.timeout(5_000));
  assert.equal(await loadOne("b"), 0);
});
