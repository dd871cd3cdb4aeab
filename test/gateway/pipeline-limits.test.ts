import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "node:test";
import { loadPipelineConfig } from "../../src/config/pipeline-config.js";
import { ConfigurationError } from "../../src/errors.js";
import { startPipelineGateway } from "../../src/gateway/pipeline/index.js";
import { MultiContainerEndpoint } from "../../src/gateway/pipeline/multi-container-endpoint.js";
import { HttpInvoker } from "../../src/gateway/invoker.js";
import * as publicGateway from "../../src/public/gateway.js";
import { startPipelineFromFlags } from "../../src/cli/pipeline.js";
import { captureLog } from "../helpers/capture-log.js";
import { appendStage, startStageServer, type StageServer } from "../helpers/stage-servers.js";

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

async function chain(count: number): Promise<{ stages: StageServer[]; answer: unknown }> {
  const names = Array.from({ length: count }, (_, index) => `stage-${index + 1}`);
  const stages = await Promise.all(names.map((name) => startStageServer(appendStage(name))));
  const gateway = await startPipelineGateway({
    config: loadPipelineConfig({}, { containers: stages.map((stage, index) => `${names[index]}=${stage.url}`), port: 0, host: "127.0.0.1" }),
    log: captureLog().log,
  });
  try {
    const response = await fetch(`${gateway.url}/endpoints/local-endpoint/invocations`, { method: "POST", body: "start", headers: { "content-type": "text/plain" } });
    assert.equal(response.status, 200, await response.clone().text());
    return { stages, answer: await response.json() };
  } finally {
    await gateway.close();
    await Promise.all(stages.map((stage) => stage.close()));
  }
}

const refusal = (count: number) => `A multi-container endpoint runs 2 to 15 containers (CreateModel's Containers); got ${count}.`;

test("2 containers and 15 containers: a request passes through every one of them, in order", async () => {
  for (const count of [2, 15]) {
    const { stages, answer } = await chain(count);
    assert.deepEqual(answer, Array.from({ length: count }, (_, index) => `stage-${index + 1}`));
    assert.deepEqual(stages.map((stage) => stage.requests), Array(count).fill(1), "each container was called once");
  }
});

test("1 container and 16 containers are refused, naming the count and the limits, before anything starts", async () => {
  for (const count of [1, 16]) {
    const containers = Array.from({ length: count }, (_, index) => `stage-${index + 1}=http://127.0.0.1:9`);
    await assert.rejects(startPipelineGateway({ config: loadPipelineConfig({}, { containers, port: 0 }) }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.ok(error.message.startsWith(refusal(count)), error.message);
      return true;
    });
    assert.throws(
      () => new MultiContainerEndpoint("Serial", containers.map((_, index) => ({ hostname: `s${index}`, invoker: new HttpInvoker("http://127.0.0.1:9/invocations") }))),
      (error: unknown) => error instanceof ConfigurationError && error.message.startsWith(refusal(count)),
    );
  }
});

test("the pipeline command exits 2 with the reason for 1 or 16 containers, and for none", async () => {
  const run = async (args: string[]) => {
    const result = await promisify(execFile)(process.execPath, ["--import", "tsx", cli, "pipeline", ...args], { env: { PATH: process.env["PATH"] ?? "" } }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    assert.equal(result.code, 2, result.stderr);
    return result.stderr;
  };
  assert.match(await run(["--container", "a=http://127.0.0.1:9"]), new RegExp(`^sagemaker-byoc: ${refusal(1).replace(/[().']/g, "\\$&")}`));
  const sixteen = Array.from({ length: 16 }, (_, index) => ["--container", `s${index}=http://127.0.0.1:9`]).flat();
  assert.match(await run(sixteen), /got 16\./);
  assert.match(await run([]), /pipeline needs its containers: --container \[<hostname>=\]<url or model directory>, 2 to 15 times/);
});

test("sagemaker-byoc-node/gateway exports the pipeline gateway and its settings; `pipeline --help` starts nothing", async () => {
  assert.equal(publicGateway.startPipelineGateway, startPipelineGateway);
  assert.equal(publicGateway.loadPipelineConfig, loadPipelineConfig);
  const printed: unknown[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void printed.push(...args);
  try {
    assert.equal(await startPipelineFromFlags(["--help"], {}), undefined);
  } finally {
    console.log = log;
  }
  assert.match(String(printed[0]), /^Usage: sagemaker-byoc pipeline --container/);
});
