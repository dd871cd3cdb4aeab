import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { InvokeEndpointAsyncCommand, InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { asyncConfigForServe, startAsyncForServe } from "../../src/cli/async-flags.js";
import { startGatewayFromFlags } from "../../src/cli/gateway.js";
import { ConfigurationError } from "../../src/errors.js";
import { behavioursHandlers } from "../helpers/async-stack.js";
import { s3Credentials, startTestS3 } from "../helpers/s3-server.js";
import { startTestServer } from "../helpers/server.js";

// The gateway's S3 client takes its credentials from the AWS SDK's default chain, as in production: here, the environment.
process.env["AWS_ACCESS_KEY_ID"] = s3Credentials.accessKeyId;
process.env["AWS_SECRET_ACCESS_KEY"] = s3Credentials.secretAccessKey;

test("beside any container: `gateway --invocations-url` serves InvokeEndpoint and InvokeEndpointAsync through HTTP", { timeout: 60_000 }, async () => {
  const s3 = await startTestS3();
  const container = await startTestServer({ handlersPath: behavioursHandlers });
  const queueDir = await mkdtemp(join(tmpdir(), "byoc-beside-"));
  const env = { BYOC_ASYNC_S3_ENDPOINT: s3.endpoint, AWS_REGION: "us-east-1", SAGEMAKER_CONTAINER_LOG_LEVEL: "silent" };
  const gateway = await startGatewayFromFlags(
    ["--invocations-url", `${container.url}/invocations`, "--port", "0", "--host", "127.0.0.1", "--queue-dir", queueDir, "--s3-output-path", `s3://${s3.bucket}/beside`, "--endpoint-name", "beside"],
    env,
  );
  assert.ok(gateway !== undefined);
  const runtime = new SageMakerRuntimeClient({ endpoint: gateway.url, region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
  try {
    const realtime = await runtime.send(new InvokeEndpointCommand({ EndpointName: "beside", Body: Buffer.from("near"), ContentType: "text/plain" }));
    assert.equal(JSON.parse(Buffer.from(realtime.Body ?? []).toString()).echo, "near");
    await s3.put("in/beside.txt", "far", "text/plain");
    const accepted = await runtime.send(new InvokeEndpointAsyncCommand({ EndpointName: "beside", InputLocation: `s3://${s3.bucket}/in/beside.txt`, ContentType: "text/plain" }));
    assert.equal(accepted.FailureLocation, undefined, "no S3FailurePath, no failure location");
    const record = await gateway.waitFor(accepted.InferenceId as string);
    assert.equal(record.status, "completed");
    assert.equal(JSON.parse((await s3.get(`beside/${accepted.InferenceId}.out`))?.body.toString() ?? "{}").echo, "far");
  } finally {
    runtime.destroy();
    await gateway.close();
    await container.close();
    await s3.close();
    await rm(queueDir, { recursive: true, force: true });
  }
  await assert.rejects(startGatewayFromFlags(["--s3-output-path", "s3://b/o"], {}), (error: unknown) => error instanceof ConfigurationError && /--invocations-url/.test(error.message));
  assert.equal(await startGatewayFromFlags(["--help"], {}), undefined);
});

test("in the model server's process: `serve --async` settings are checked before the server starts, and close stops both", { timeout: 60_000 }, async () => {
  assert.equal(asyncConfigForServe({}, {}), undefined, "off unless asked");
  assert.throws(() => asyncConfigForServe({ async: true }, {}), /BYOC_ASYNC_S3_OUTPUT_PATH/);
  assert.throws(() => asyncConfigForServe({}, { BYOC_ASYNC_ENABLED: "true", BYOC_ASYNC_S3_OUTPUT_PATH: "s3://b/o", BYOC_ASYNC_MAX_CONCURRENT_INVOCATIONS: "0" }), /BYOC_ASYNC_MAX_CONCURRENT_INVOCATIONS/);
  const queueDir = await mkdtemp(join(tmpdir(), "byoc-serve-async-"));
  const config = asyncConfigForServe({ async: true, "async-port": "0", "queue-dir": queueDir, "s3-output-path": "s3://b/o", "max-concurrent-invocations": "1" }, { BYOC_ASYNC_HOST: "127.0.0.1" });
  assert.equal(config?.maxConcurrentInvocations, 1);
  const server = await startTestServer();
  const close = await startAsyncForServe(config, server);
  await close();
  await assert.rejects(fetch(`${server.url}/ping`), "the model server stopped too");

  const alone = await startTestServer();
  await (await startAsyncForServe(undefined, alone))();
  await assert.rejects(fetch(`${alone.url}/ping`));

  const busy = await startTestServer();
  const taken = { ...(config), port: busy.port };
  await assert.rejects(startAsyncForServe(taken, busy), /EADDRINUSE/);
  await assert.rejects(fetch(`${busy.url}/ping`), "a gateway that cannot start stops the server");
  await rm(queueDir, { recursive: true, force: true });
});
