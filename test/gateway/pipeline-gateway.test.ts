import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient, ValidationError, type InvokeEndpointCommandInput } from "@aws-sdk/client-sagemaker-runtime";
import { loadPipelineConfig, type PipelineConfigOverrides } from "../../src/config/pipeline-config.js";
import { startPipelineGateway, type RunningPipelineGateway } from "../../src/gateway/pipeline/index.js";
import type { ContainerOutput } from "../../src/gateway/pipeline/local-container.js";
import { captureLog, type LogRecord } from "../helpers/capture-log.js";

const stageHandlers = fileURLToPath(new URL("../fixtures/handlers/pipeline-stage.ts", import.meta.url));
const traceType = "application/x-stage-trace+json";

interface Received {
  stage: string;
  contentType: string;
  accept: string;
  customAttributes: string | null;
  inferenceId: string;
}

function runtimeFor(gateway: RunningPipelineGateway): SageMakerRuntimeClient {
  return new SageMakerRuntimeClient({ endpoint: gateway.url, region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" }, maxAttempts: 1 });
}

async function invoke(runtime: SageMakerRuntimeClient, input: Partial<InvokeEndpointCommandInput>) {
  const output = await runtime.send(new InvokeEndpointCommand({ EndpointName: "local-endpoint", Body: Buffer.from("hello"), ContentType: "text/plain", ...input }));
  return { ...output, parsed: JSON.parse(Buffer.from(output.Body ?? []).toString("utf8")) as { trace: Received[]; input: string } };
}

async function rejectsWith<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E, check: (error: E) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${(error as Error).name}: ${(error as Error).message}`);
    check(error);
    return true;
  });
}

describe("a serial inference pipeline of two `serve` processes, called with the unmodified SageMaker Runtime client", () => {
  let modelDir: string;
  let serial: RunningPipelineGateway;
  let direct: RunningPipelineGateway;
  let runtime: SageMakerRuntimeClient;
  let directRuntime: SageMakerRuntimeClient;
  const output: ContainerOutput[] = [];
  const serialLog = captureLog();

  const invocationLines = (): LogRecord[] => serialLog.records.filter((record) => record.msg === "invocation");

  before(async () => {
    modelDir = await mkdtemp(join(tmpdir(), "byoc-pipeline-stage-"));
    const overrides: PipelineConfigOverrides = {
      containers: [`first=${modelDir}`, `second=${modelDir}`],
      containerEnvironment: [
        `first:BYOC_HANDLERS=${stageHandlers}`,
        `second:BYOC_HANDLERS=${stageHandlers}`,
        "first:STAGE_NAME=first",
        "second:STAGE_NAME=second",
        `first:SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=${traceType}`,
      ],
      port: 0,
      host: "127.0.0.1",
      startupTimeoutMs: 60_000,
    };
    serial = await startPipelineGateway({
      config: loadPipelineConfig({}, overrides),
      log: serialLog.log,
      env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_CONTAINER_LOG_LEVEL: "info", SAGEMAKER_MODEL_SERVER_WORKERS: "1" },
      onContainerOutput: (line) => output.push(line),
    });
    // Direct invocation of the same two containers, given as the URLs of running servers.
    direct = await startPipelineGateway({
      config: loadPipelineConfig({}, { containers: serial.containers.map(({ hostname, url }) => `${hostname}=${url}`), mode: "Direct", port: 0, host: "127.0.0.1" }),
      log: captureLog().log,
    });
    runtime = runtimeFor(serial);
    directRuntime = runtimeFor(direct);
  });

  after(async () => {
    runtime.destroy();
    directRuntime.destroy();
    await direct.close();
    await serial.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  test("each directory becomes its own `serve` process, listening on the port given in SAGEMAKER_BIND_TO_PORT", () => {
    assert.deepEqual(
      serial.containers.map(({ hostname, started }) => ({ hostname, started })),
      [
        { hostname: "first", started: true },
        { hostname: "second", started: true },
      ],
    );
    for (const container of serial.containers) {
      const listening = output
        .filter((line) => line.container === container.hostname && line.stream === "stdout")
        .map((line) => JSON.parse(line.text) as LogRecord)
        .find((record) => record.msg === "listening");
      assert.ok(listening !== undefined, `${container.hostname} logged that it listens`);
      assert.equal(listening["container"], container.hostname, "its log lines carry its hostname");
      assert.equal(`http://127.0.0.1:${String(listening["port"])}`, container.url);
    }
    assert.notEqual(serial.containers[0]?.url, serial.containers[1]?.url);
    assert.deepEqual(direct.containers.map(({ started }) => started), [false, false], "URLs are used, not started");
  });

  test("the first container gets the client's body and Content-Type, the next one the previous answer with its Content-Type; only the last gets the client's Accept", async () => {
    const answer = await invoke(runtime, {
      Body: Buffer.from("read me"),
      ContentType: "text/plain; charset=utf-8",
      Accept: "application/json",
      CustomAttributes: "trace-1",
      InferenceId: "pipeline-1",
    });
    assert.equal(answer.ContentType, "application/json", "the last container's Content-Type");
    assert.equal(answer.InvokedProductionVariant, "AllTraffic");
    assert.equal(answer.parsed.input, "read me");
    assert.deepEqual(answer.parsed.trace, [
      { stage: "first", contentType: "text/plain; charset=utf-8", accept: traceType, customAttributes: "trace-1", inferenceId: "pipeline-1" },
      { stage: "second", contentType: traceType, accept: "application/json", customAttributes: "trace-1", inferenceId: "pipeline-1" },
    ]);
    const line = invocationLines().find((record) => record["inferenceId"] === "pipeline-1");
    assert.deepEqual(
      (line?.["containers"] as { container: string; status: number }[]).map(({ container, status }) => ({ container, status })),
      [
        { container: "first", status: 200 },
        { container: "second", status: 200 },
      ],
      "the gateway logs each container's status and time",
    );
  });

  test("the answer carries the last container's custom attributes, not an earlier one's", async () => {
    const fromLast = await invoke(runtime, { CustomAttributes: "attributes:second=done" });
    assert.equal(fromLast.CustomAttributes, "done");
    const fromFirst = await invoke(runtime, { CustomAttributes: "attributes:first=early" });
    assert.equal(fromFirst.CustomAttributes, undefined);
  });

  test("a failure in container k comes back as SageMaker's ModelError naming it, and the containers after it are not called", async () => {
    await rejectsWith(invoke(runtime, { CustomAttributes: "fail:first=400", InferenceId: "fails-first" }), ModelError, (error) => {
      assert.equal(error.$metadata.httpStatusCode, 424);
      assert.match(error.message, /^Received client error \(400\) from first with message "Stage first refuses this request"\. See arn:aws:logs:us-east-1:000000000000:log-group:\/aws\/sagemaker\/Endpoints\/local-endpoint/);
      assert.equal(error.OriginalStatusCode, 400);
      assert.deepEqual(JSON.parse(error.OriginalMessage ?? ""), { error: { code: "STAGE_REFUSED", message: "Stage first refuses this request" } });
    });
    await rejectsWith(invoke(runtime, { CustomAttributes: "fail:second=503", InferenceId: "fails-second" }), ModelError, (error) => {
      assert.match(error.message, /^Received server error \(503\) from second with message "Stage second refuses this request"/);
      assert.equal(error.OriginalStatusCode, 503);
    });
    const statuses = (inferenceId: string) =>
      (invocationLines().find((record) => record["inferenceId"] === inferenceId)?.["containers"] as { container: string; status: number }[]).map(
        ({ container, status }) => `${container} ${status}`,
      );
    assert.deepEqual(statuses("fails-first"), ["first 400"]);
    assert.deepEqual(statuses("fails-second"), ["first 200", "second 503"]);
  });

  test("/ping answers 200 with every container ready", async () => {
    const response = await fetch(`${serial.url}/ping`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      status: "ready",
      endpointName: "local-endpoint",
      mode: "Serial",
      containers: [
        { container: "first", ready: true },
        { container: "second", ready: true },
      ],
    });
  });

  test("Direct mode: TargetContainerHostname runs that container alone, with the client's Content-Type and Accept", async () => {
    const answer = await invoke(directRuntime, { TargetContainerHostname: "second", Accept: "application/json", ContentType: "text/csv", InferenceId: "direct-1" });
    assert.equal(answer.ContentType, "application/json");
    assert.deepEqual(answer.parsed.trace, [{ stage: "second", contentType: "text/csv", accept: "application/json", customAttributes: null, inferenceId: "direct-1" }]);
    const first = await invoke(directRuntime, { TargetContainerHostname: "first" });
    assert.deepEqual(first.parsed.trace.map((received) => received.stage), ["first"]);
    await rejectsWith(invoke(directRuntime, { TargetContainerHostname: "first", CustomAttributes: "fail:first=422" }), ModelError, (error) => {
      assert.match(error.message, /^Received client error \(422\) from first with message/);
    });
  });

  test("Direct mode refuses a request without TargetContainerHostname, or naming no container; Serial mode refuses one with it", async () => {
    await rejectsWith(invoke(directRuntime, {}), ValidationError, (error) => {
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.equal(error.message, "This endpoint is configured for direct invocation: TargetContainerHostname must name one of its containers (first, second).");
    });
    await rejectsWith(invoke(directRuntime, { TargetContainerHostname: "third" }), ValidationError, (error) => {
      assert.equal(error.message, "TargetContainerHostname third names no container of this endpoint; its containers are first, second.");
    });
    await rejectsWith(invoke(directRuntime, { TargetContainerHostname: "not_a_hostname" }), ValidationError, (error) => {
      assert.match(error.message, /Value 'not_a_hostname' at 'targetContainerHostname' failed to satisfy constraint/);
    });
    await rejectsWith(invoke(runtime, { TargetContainerHostname: "second" }), ValidationError, (error) => {
      assert.match(error.message, /^TargetContainerHostname second is not allowed: this endpoint runs its containers as a serial inference pipeline/);
    });
    await rejectsWith(invoke(runtime, { EndpointName: "other" }), ValidationError, (error) => {
      assert.equal(error.message, "Endpoint other of account 000000000000 not found.");
    });
  });
});
