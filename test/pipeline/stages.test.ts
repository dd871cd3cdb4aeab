/**
 * Stages inside one container, over real HTTP: a `serve` child runs the four-stage fixture
 * (test/fixtures/handlers/stages-arithmetic.ts: parse → scale → negate, a real ONNX model → sum)
 * and the tests read its answers and its JSON log lines.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { buildModel, writeModel } from "../helpers/onnx-models.js";
import { scrape, seriesOf } from "../helpers/prometheus.js";
import { spawnServe, type ServeChild } from "../helpers/serve-child.js";

const handlers = fileURLToPath(new URL("../fixtures/handlers/stages-arithmetic.ts", import.meta.url));

describe("a pipeline of stages served in one container", () => {
  let modelDir: string;
  let server: ServeChild;
  let requests = 0;

  before(async () => {
    modelDir = await mkdtemp(join(tmpdir(), "stages-"));
    const row = { dtype: "float32", shape: [1, "n"] } as const;
    await writeModel(modelDir, "negate.onnx", buildModel({ inputs: [{ name: "x", ...row }], outputs: [{ name: "y", ...row }], nodes: [{ opType: "Neg", inputs: ["x"], outputs: ["y"] }] }));
    server = await spawnServe(["--handlers", handlers, "--model-dir", modelDir, "--workers", "1"]);
  });

  after(async () => {
    server.child.kill("SIGKILL");
    await rm(modelDir, { recursive: true, force: true });
  });

  /** Sends `body` with custom attributes that steer the fixture; answers the response, its JSON body and the request's log lines. */
  async function call(body: string, customAttributes = ""): Promise<{ status: number; json: Record<string, unknown>; line: Record<string, unknown>; lines: Record<string, unknown>[] }> {
    const inferenceId = `stages-${++requests}`;
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-amzn-sagemaker-inference-id": inferenceId, "x-amzn-sagemaker-custom-attributes": customAttributes },
    });
    const json = (await response.json()) as Record<string, unknown>;
    const line = await server.waitForLog((entry) => entry["msg"] === "invocation" && entry["inferenceId"] === inferenceId);
    return { status: response.status, json, line, lines: server.lines.filter((entry) => entry["inferenceId"] === inferenceId) };
  }

  test("each stage's output is the next one's input, through a real ONNX stage: [1, 2, 3] doubled, negated and summed is -12", async () => {
    const { status, json } = await call("[1, 2, 3]");
    assert.equal(status, 200);
    assert.deepEqual(json, { sum: -12, count: 3 });
  });

  test("the request log line times each stage that ran, by name, in order, within the predict time", async () => {
    const { line } = await call("[1, 2, 3]");
    const stages = line["stages"] as Record<string, number>;
    assert.deepEqual(Object.keys(stages), ["parse", "scale", "negate", "sum"]);
    for (const [stage, ms] of Object.entries(stages)) assert.ok(typeof ms === "number" && ms >= 0, `${stage}: ${ms}`);
    const total = Object.values(stages).reduce((sum, ms) => sum + ms, 0);
    // Each figure is rounded to 0.01 ms on its own.
    assert.ok(total <= (line["predictMs"] as number) + 0.05, `stages ${total} ms within predict ${String(line["predictMs"])} ms`);
  });

  test("a stage whose skipIf says so hands its input on unchanged and is left out of the timings", async () => {
    const { status, json, line } = await call("[1, 2, 3]", "skip=scale");
    assert.equal(status, 200);
    assert.deepEqual(json, { sum: -6, count: 3 });
    assert.deepEqual(Object.keys(line["stages"] as object), ["parse", "negate", "sum"]);
  });

  test("/metrics times each stage that ran under byoc_pipeline_stage_duration_seconds, and a skipped stage not at all", async () => {
    const counts = async (): Promise<Record<string, number>> => {
      const scraped = await scrape(`${server.url}/metrics`);
      const named = ["parse", "scale", "negate", "sum"].map((stage) => [stage, seriesOf(scraped, "byoc_pipeline_stage_duration_seconds", { model: "model", stage }).count ?? 0]);
      return Object.fromEntries(named) as Record<string, number>;
    };
    const before = await counts();
    await call("[1, 2, 3]");
    await call("[1, 2, 3]", "skip=scale");
    const after = await counts();
    assert.deepEqual(
      Object.fromEntries(Object.entries(after).map(([stage, count]) => [stage, count - (before[stage] ?? 0)])),
      { parse: 2, scale: 1, negate: 2, sum: 2 },
    );
  });

  test("an early answer from the first stage is the response, and no later stage runs", async () => {
    const { status, json, line } = await call("[1, 2, 3]", "early=parse");
    assert.equal(status, 200);
    assert.deepEqual(json, { early: "parse" });
    assert.deepEqual(Object.keys(line["stages"] as object), ["parse"]);
  });

  test("an early answer from the last stage replaces its output", async () => {
    const { json, line } = await call("[1, 2, 3]", "early=sum");
    assert.deepEqual(json, { early: "sum" });
    assert.deepEqual(Object.keys(line["stages"] as object), ["parse", "scale", "negate", "sum"]);
  });

  test("a stage's InferenceError keeps its status and code; the body and the log line name the stage", async () => {
    const { status, json, lines } = await call("[1, 2, 3]", "fail=scale:422");
    assert.equal(status, 422);
    assert.deepEqual(json, { error: { code: "REFUSED", message: 'Stage "scale": scale refuses this input', stage: "scale" } });
    const rejected = lines.find((entry) => entry["msg"] === "invocation rejected");
    assert.equal(rejected?.["stage"], "scale");
    assert.equal(rejected?.["status"], 422);
  });

  test("any other error in a stage is a generic 500 that names the stage; the error log line has the stage and the real error", async () => {
    const { status, json, lines } = await call("[1, 2, 3]", "fail=sum:plain");
    assert.equal(status, 500);
    const error = json["error"] as Record<string, unknown>;
    assert.equal(error["code"], "INTERNAL_ERROR");
    assert.equal(error["stage"], "sum");
    assert.match(String(error["message"]), /^The handlers of stage "sum" failed; see the server log for inference id stages-\d+$/);
    const failed = lines.find((entry) => entry["msg"] === "invocation failed");
    assert.equal(failed?.["stage"], "sum");
    assert.equal((failed?.["err"] as Record<string, unknown>)["message"], 'Stage "sum": sum broke');
  });

  test("a body the first stage's inputFn refuses is its 400, naming that stage", async () => {
    const { status, json } = await call('[1, "two"]');
    assert.equal(status, 400);
    assert.deepEqual(json, { error: { code: "BAD_REQUEST", message: 'Stage "parse": send a JSON array of numbers', stage: "parse" } });
  });
});
