/**
 * A stage with `workers` of its own, over real HTTP: the fixture
 * (test/fixtures/handlers/stages-remote.ts) runs `produce` and `finish` in the worker that took
 * the request and `heavy` on one worker of its own, and reports from the worker threads what it
 * saw (test/helpers/fixture-events.ts).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { RunningServer } from "../../src/server.js";
import { listenToFixtures, type FixtureEvents } from "../helpers/fixture-events.js";
import { invoke, startTestServer } from "../helpers/server.js";

const handlersPath = fileURLToPath(new URL("../fixtures/handlers/stages-remote.ts", import.meta.url));

describe("a stage on workers of its own", () => {
  let server: RunningServer;
  let fixtures: FixtureEvents;
  let requests = 0;

  before(async () => {
    fixtures = listenToFixtures();
    server = await startTestServer({ handlersPath, workers: 2, timeoutMs: 1000 });
  });

  after(async () => {
    await server.close();
    fixtures.close();
  });

  async function call(customAttributes = ""): Promise<{ inferenceId: string; response: Response }> {
    const inferenceId = `remote-${++requests}`;
    const response = await invoke(server, "[1, 2, 3]", {
      "content-type": "application/json",
      "x-amzn-sagemaker-inference-id": inferenceId,
      "x-amzn-sagemaker-custom-attributes": customAttributes,
    });
    return { inferenceId, response };
  }

  test("its model loads once, on one worker, while the other stages load in each of the 2 workers", async () => {
    const loads = (stage: string) => fixtures.events.filter((event) => event.event === "loaded" && event["stage"] === stage);
    // The reports cross threads on their own channel: wait for every load the server awaited.
    await fixtures.next("both loads of produce", () => loads("produce").length === 2);
    await fixtures.next("the load of heavy", () => loads("heavy").length > 0);
    assert.equal(loads("heavy").length, 1);
    assert.equal(loads("produce").length, 2);
    assert.equal(new Set(loads("produce").map((event) => event.threadId)).size, 2);
  });

  test("its input's buffers move to it and its output's move back, rather than being copied", async () => {
    const { inferenceId, response } = await call();
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { predictions: { values: [10, 20, 30], early: false } });
    const heavy = await fixtures.next("the heavy stage", (event) => event.event === "heavy" && event.inferenceId === inferenceId);
    assert.equal(heavy["receivedFloat32"], true);
    assert.equal(heavy["label"], "ten times");
    const finish = await fixtures.next("the finish stage", (event) => event.event === "finish" && event.inferenceId === inferenceId);
    assert.equal(finish["sourceDetached"], true, "the tensor produce handed on was moved, leaving its buffer detached");
    const output = await fixtures.next("heavy's output", (event) => event.event === "heavy-output" && event.inferenceId === inferenceId);
    assert.equal(output["detached"], true, "heavy's output was moved back");
    assert.equal(response.headers.get("x-amzn-sagemaker-custom-attributes"), `heavy-thread=${heavy.threadId}`, "what it sets in the request's context comes back with its output");
  });

  test("its InferenceError keeps its status and code, and the body names it", async () => {
    const { response } = await call("fail=418");
    assert.equal(response.status, 418);
    assert.deepEqual(await response.json(), { error: { code: "OUT_OF_RANGE", message: 'Stage "heavy": the values are out of range', stage: "heavy" } });
  });

  test("its early answer ends the pipeline: the stage after it does not run", async () => {
    const { inferenceId, response } = await call("early");
    assert.deepEqual(await response.json(), { predictions: { values: [], early: true } });
    await fixtures.next("the heavy stage", (event) => event.event === "heavy" && event.inferenceId === inferenceId);
    assert.deepEqual(
      fixtures.about(inferenceId).map((event) => event.event),
      ["produce", "heavy"],
    );
  });

  test("an output that cannot cross threads is a 500 STAGE_VALUE_NOT_CLONEABLE naming the stage", async () => {
    const { response } = await call("function");
    assert.equal(response.status, 500);
    const { error } = (await response.json()) as { error: { code: string; message: string; stage: string } };
    assert.equal(error.code, "STAGE_VALUE_NOT_CLONEABLE");
    assert.equal(error.stage, "heavy");
    assert.match(error.message, /^Stage "heavy": its output cannot cross to another thread/);
  });

  test("a request that runs out of time aborts the stage on its own worker", async () => {
    const { inferenceId, response } = await call("hang");
    assert.equal(response.status, 504);
    await fixtures.next("the abort in the heavy stage", (event) => event.event === "heavy-aborted" && event.inferenceId === inferenceId);
    const { response: next } = await call();
    assert.equal(next.status, 200, "the stage's worker takes the next request");
  });
});
