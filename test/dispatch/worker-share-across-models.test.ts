/**
 * A worker that hosts several models (a multi-model endpoint's) takes a few requests at a time
 * whatever their model; when one finishes, the place it frees goes to the request that has waited
 * longest among all the models the worker hosts, not only to the finished request's model.
 * Checked over HTTP, on a multi-model server with one worker and handlers that hold each request
 * until the test releases it.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { RunningServer } from "../../src/server.js";
import { listenToFixtures, type FixtureEvents } from "../helpers/fixture-events.js";
import { irisModelDir, startTestServer } from "../helpers/server.js";

const handlersPath = fileURLToPath(new URL("../fixtures/handlers/misbehaviours.ts", import.meta.url));
/** Requests a worker takes at once from the HTTP thread (src/dispatch/worker-pool.ts) when its model does not batch. */
const workerShare = 4;

describe("a worker's share of requests across the models it hosts", () => {
  let scratch: string;
  let server: RunningServer;
  let fixtures: FixtureEvents;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "byoc-share-"));
    fixtures = listenToFixtures();
    server = await startTestServer({ multiModel: true, modelsRoot: scratch, workers: 1, handlersPath });
    for (const name of ["first", "second"]) {
      const url = join(scratch, name, "model");
      await mkdir(url, { recursive: true });
      await copyFile(join(irisModelDir, "iris.onnx"), join(url, "iris.onnx"));
      const loaded = await fetch(`${server.url}/models`, { method: "POST", body: JSON.stringify({ model_name: name, url }), headers: { "content-type": "application/json" } });
      assert.equal(loaded.status, 200);
    }
  });
  after(async () => {
    await server.close();
    fixtures.close();
    await rm(scratch, { recursive: true, force: true });
  });

  const held = (inferenceId: string) => fixtures.next(`request ${inferenceId} held`, (event) => event.event === "held" && event.inferenceId === inferenceId);
  const hold = (model: string, inferenceId: string): Promise<Response> =>
    fetch(`${server.url}/models/${model}/invoke`, {
      method: "POST",
      body: "x",
      headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": "hold", "x-amzn-sagemaker-inference-id": inferenceId },
    });

  /** Inference requests the server has taken in and not answered (its own gauge). */
  async function requestsInFlight(): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(/^byoc_http_requests_in_flight (\d+)$/m.exec(text)?.[1]);
  }

  test("a place freed by one model's request goes to a waiting request of another model, before a request of the same model that came later", async () => {
    const running = Array.from({ length: workerShare }, (_, index) => `first-${index}`);
    const answers = running.map((id) => hold("first", id));
    for (const id of running) await held(id);
    // The worker's share is taken: the second model's request waits on the HTTP thread.
    const waiting = hold("second", "second-waiting");
    while ((await requestsInFlight()) < workerShare + 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fixtures.events.filter((event) => event.event === "held").length, workerShare, "no fifth request reached the worker");

    fixtures.release("first-0");
    assert.equal((await (answers.shift() as Promise<Response>)).status, 200);
    // Had the freed place gone unused, this later request of the first model would take it.
    const late = hold("first", "first-late");
    const next = await fixtures.next("the next request held", (event) => event.event === "held" && (event.inferenceId === "second-waiting" || event.inferenceId === "first-late"));
    assert.equal(next.inferenceId, "second-waiting");

    for (const id of [...running.slice(1), "second-waiting", "first-late"]) fixtures.release(id);
    assert.deepEqual((await Promise.all([...answers, waiting, late])).map((answer) => answer.status), Array(workerShare + 1).fill(200));
  });
});
