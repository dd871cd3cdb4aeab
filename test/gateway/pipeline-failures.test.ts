import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { loadPipelineConfig, type PipelineConfigOverrides } from "../../src/config/pipeline-config.js";
import { ConfigurationError } from "../../src/errors.js";
import { HttpInvoker } from "../../src/gateway/invoker.js";
import { parsePipelineContainers } from "../../src/gateway/pipeline/containers.js";
import { startPipelineGateway, type RunningPipelineGateway } from "../../src/gateway/pipeline/index.js";
import type { ContainerOutput } from "../../src/gateway/pipeline/local-container.js";
import { maxHandOverBytes, MultiContainerEndpoint } from "../../src/gateway/pipeline/multi-container-endpoint.js";
import { createPipelineApp } from "../../src/gateway/pipeline/pipeline-api.js";
import { listen } from "../../src/http/listen.js";
import { captureLog } from "../helpers/capture-log.js";
import { freePort } from "../helpers/free-port.js";
import { appendStage, startStageServer, type StageServer } from "../helpers/stage-servers.js";

const config = { endpointName: "local-endpoint", accountId: "000000000000", region: "us-east-1", variantName: "AllTraffic" };
const logGroup = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/local-endpoint";

/** An endpoint over `urls` (hostnames `a`, `b`...) served on loopback, with an optional time limit. */
async function serveEndpoint(urls: readonly string[], timeoutMs?: number) {
  const endpoint = new MultiContainerEndpoint(
    "Serial",
    urls.map((url, index) => ({ hostname: String.fromCharCode(97 + index), invoker: new HttpInvoker(`${url}/invocations`) })),
  );
  const server = createServer(createPipelineApp({ config, endpoint, log: captureLog().log, ...(timeoutMs === undefined ? {} : { timeoutMs }) }));
  const { url } = await listen(server, 0, "127.0.0.1");
  const invoke = async () => {
    const response = await fetch(`${url}/endpoints/local-endpoint/invocations`, { method: "POST", body: "x", headers: { "content-type": "text/plain" } });
    return { status: response.status, type: response.headers.get("x-amzn-errortype"), body: (await response.json()) as Record<string, unknown> };
  };
  return {
    url,
    invoke,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

describe("failures between containers, answered as SageMaker answers them, naming the container", () => {
  let healthy: StageServer;
  before(async () => {
    healthy = await startStageServer(appendStage("healthy"));
  });
  after(async () => {
    await healthy.close();
  });

  test("a container nobody listens on: ServiceUnavailable naming it, and /ping 503 saying which container is not ready", async () => {
    const closedPort = await freePort();
    const endpoint = await serveEndpoint([healthy.url, `http://127.0.0.1:${closedPort}`]);
    try {
      const answer = await endpoint.invoke();
      assert.equal(answer.status, 503);
      assert.equal(answer.type, "ServiceUnavailable");
      assert.match(String(answer.body["Message"]), new RegExp(`^Container b cannot take requests: Could not reach the model at http://127.0.0.1:${closedPort}/invocations`));
      const ping = await fetch(`${endpoint.url}/ping`);
      assert.equal(ping.status, 503);
      assert.deepEqual(((await ping.json()) as { containers: unknown }).containers, [
        { container: "a", ready: true },
        { container: "b", ready: false },
      ]);
    } finally {
      await endpoint.close();
    }
  });

  test("a container that closes the connection without answering: ModelError with status 0 naming it", async () => {
    const dropping = await startStageServer((request) => request.socket.destroy());
    const endpoint = await serveEndpoint([dropping.url, healthy.url]);
    try {
      const answer = await endpoint.invoke();
      assert.equal(answer.status, 424);
      assert.equal(answer.type, "ModelError");
      assert.deepEqual(answer.body, {
        Message: `Received server error (0) from a with message "Container a closed the connection without answering.". See ${logGroup} in account 000000000000 for more information.`,
        OriginalStatusCode: 0,
        OriginalMessage: "Container a closed the connection without answering.",
        LogStreamArn: logGroup,
      });
    } finally {
      await endpoint.close();
      await dropping.close();
    }
  });

  test("past the time limit: ModelError naming the container still working, as SageMaker words a time-out", async () => {
    const silent = await startStageServer(() => undefined);
    const endpoint = await serveEndpoint([healthy.url, silent.url], 300);
    try {
      const answer = await endpoint.invoke();
      assert.equal(answer.status, 424);
      assert.equal(answer.body["OriginalStatusCode"], 0);
      assert.equal(answer.body["OriginalMessage"], "Your invocation timed out while waiting for a response from container b.");
      assert.match(String(answer.body["Message"]), /^Received server error \(0\) from b with message/);
    } finally {
      await endpoint.close();
      await silent.close();
    }
  });

  test("an answer larger than 5 MiB cannot be handed to the next container: ModelError in SageMaker's words; 5 MiB itself passes", async () => {
    let size = maxHandOverBytes + 1;
    const large = await startStageServer((_request, _body, response) => {
      response.setHeader("content-type", "application/octet-stream");
      response.end(Buffer.alloc(size));
    });
    const next = await startStageServer((_request, body, response) => response.end(String(body.length)));
    const endpoint = await serveEndpoint([large.url, next.url]);
    try {
      const refused = await endpoint.invoke();
      assert.equal(refused.status, 424);
      assert.equal(refused.type, "ModelError");
      assert.equal(
        refused.body["Message"],
        `Received response from a with status code 200. However, the request payload from a to b is ${maxHandOverBytes + 1} bytes, which has exceeded the maximum limit of 5 MB. See ${logGroup} in account 000000000000 for more information.`,
      );
      assert.equal(refused.body["OriginalStatusCode"], 200);
      assert.equal(next.requests, 0, "the next container was not called");
      size = maxHandOverBytes;
      const response = await fetch(`${endpoint.url}/endpoints/local-endpoint/invocations`, { method: "POST", body: "x" });
      assert.equal(await response.text(), String(maxHandOverBytes));
    } finally {
      await endpoint.close();
      await large.close();
      await next.close();
    }
  });

  test("an unknown operation is UnknownOperationException; a body over 6 MiB a ValidationError", async () => {
    const endpoint = await serveEndpoint([healthy.url, healthy.url]);
    const calledBefore = healthy.requests;
    try {
      const unknown = await fetch(`${endpoint.url}/endpoints/local-endpoint/async-invocations`, { method: "POST" });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.headers.get("x-amzn-errortype"), "UnknownOperationException");
      const large = await fetch(`${endpoint.url}/endpoints/local-endpoint/invocations`, { method: "POST", body: Buffer.alloc(6 * 1024 * 1024 + 1) });
      assert.equal(large.status, 400);
      assert.equal(large.headers.get("x-amzn-errortype"), "ValidationError");
      assert.equal(healthy.requests, calledBefore, "no container was called");
    } finally {
      await endpoint.close();
    }
  });
});

describe("pipeline definitions CreateModel would refuse", () => {
  const refuses = (specs: string[], environment: string[], mode: "Serial" | "Direct", message: string) =>
    assert.throws(
      () => parsePipelineContainers(specs, environment, mode),
      (error: unknown) => error instanceof ConfigurationError && error.message === message,
    );

  test("hostnames: for every container or none (then named by position), unique, 1-63 letters, digits and hyphens; all named in Direct mode", () => {
    assert.deepEqual(
      parsePipelineContainers(["http://127.0.0.1:9001", "http://127.0.0.1:9002/x/invocations"], [], "Serial").map(({ hostname, target }) => ({ hostname, target })),
      [
        { hostname: "container-1", target: { kind: "url", invocationsUrl: "http://127.0.0.1:9001/invocations" } },
        { hostname: "container-2", target: { kind: "url", invocationsUrl: "http://127.0.0.1:9002/x/invocations" } },
      ],
    );
    refuses(["a=http://h:1", "http://h:2"], [], "Serial", "Name every container or none: 1 of 2 have a hostname (CreateModel requires ContainerHostname on all containers once one has it)");
    refuses(["a=http://h:1", "a=http://h:2"], [], "Serial", "Container hostname a is given twice; hostnames must be unique");
    refuses(["-a=http://h:1", "b=http://h:2"], [], "Serial", 'Container hostname "-a" must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit');
    refuses(["a=", "b=http://h:2"], [], "Serial", "--container a=: give a URL or a model directory after the hostname");
    refuses(["http://h:1", "http://h:2"], [], "Direct", "Direct mode needs a hostname for every container (--container <hostname>=<url or dir>): requests name their container by it");
    refuses(["a=http://[bad", "b=http://h:2"], [], "Serial", "--container http://[bad is not a valid URL");
  });

  test("variables only for containers the command starts, and only for containers that exist", () => {
    const [, model] = parsePipelineContainers(["pre=http://h:1", "model=./model"], ["model:SAGEMAKER_MODEL_SERVER_WORKERS=2", "model:EMPTY="], "Serial");
    assert.deepEqual(model?.environment, { SAGEMAKER_MODEL_SERVER_WORKERS: "2", EMPTY: "" });
    refuses(["pre=http://h:1", "model=./model"], ["post:X=1"], "Serial", '--container-env post:X=1: no container is named "post"; the containers are pre, model');
    refuses(["pre=http://h:1", "model=./model"], ["pre:X=1"], "Serial", "--container-env pre:X=1: pre is a running server (http://h:1/invocations); variables apply only to containers this command starts");
  });
});

describe("starting containers from model directories", () => {
  const stageHandlers = fileURLToPath(new URL("../fixtures/handlers/pipeline-stage.ts", import.meta.url));
  const failingHandlers = fileURLToPath(new URL("../fixtures/handlers/load-fails.ts", import.meta.url));
  const slowHandlers = fileURLToPath(new URL("../fixtures/handlers/slow-load.ts", import.meta.url));
  let modelDir: string;
  before(async () => {
    modelDir = await mkdtemp(join(tmpdir(), "byoc-pipeline-start-"));
  });
  after(async () => {
    await rm(modelDir, { recursive: true, force: true });
  });

  const start = (overrides: PipelineConfigOverrides, output: ContainerOutput[] = []): Promise<RunningPipelineGateway> =>
    startPipelineGateway({
      config: loadPipelineConfig({}, { port: 0, host: "127.0.0.1", ...overrides }),
      log: captureLog().log,
      env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_CONTAINER_LOG_LEVEL: "info", SAGEMAKER_MODEL_SERVER_WORKERS: "1" },
      onContainerOutput: (line) => output.push(line),
    });

  test("a directory that does not exist is refused before anything starts", async () => {
    await assert.rejects(start({ containers: [`a=${join(modelDir, "missing")}`, "b=http://127.0.0.1:9"] }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(error.message, `Container a: ${join(modelDir, "missing")} is not a model directory (nor an http:// URL)`);
      return true;
    });
  });

  test("a container whose model fails to load fails the start at once with the reason, and the others are stopped", async () => {
    const output: ContainerOutput[] = [];
    const started = performance.now();
    await assert.rejects(
      start({ containers: [`ok=${modelDir}`, `broken=${modelDir}`], containerEnvironment: [`ok:BYOC_HANDLERS=${stageHandlers}`, `broken:BYOC_HANDLERS=${failingHandlers}`] }, output),
      (error: unknown) => {
        assert.equal((error as Error).message, `container broken (${modelDir}) cannot serve: Model failed to load: weights file is corrupt`);
        return true;
      },
    );
    assert.ok(performance.now() - started < 60_000, "without waiting for the start-up time (240 s) to run out");
    const okLines = output.filter((line) => line.container === "ok").map((line) => line.text);
    assert.ok(okLines.some((text) => text.includes('"msg":"stopped"')), `the healthy container was stopped: ${okLines.join("\n")}`);
  });

  test("a container that exits before it is ready fails the start with its last output", async () => {
    await assert.rejects(start({ containers: [`broken=${modelDir}`, "b=http://127.0.0.1:9"], containerEnvironment: ["broken:SAGEMAKER_MODEL_SERVER_WORKERS=0"] }), (error: unknown) => {
      assert.match((error as Error).message, new RegExp(`^container broken \\(${modelDir}\\) exited \\(code 2\\) before it was ready\\. Its last output:\\n`));
      assert.match((error as Error).message, /SAGEMAKER_MODEL_SERVER_WORKERS="0" must be/);
      return true;
    });
  });

  test("a container that does not answer /ping 200 in time fails the start", async () => {
    await assert.rejects(
      start({ containers: [`slow=${modelDir}`, "b=http://127.0.0.1:9"], containerEnvironment: [`slow:BYOC_HANDLERS=${slowHandlers}`], startupTimeoutMs: 500 }),
      (error: unknown) => {
        assert.match((error as Error).message, /^container slow \(.*\) did not answer \/ping 200 within 0\.5 s \(BYOC_PIPELINE_STARTUP_TIMEOUT_SECONDS\)\. Its last output:\n/);
        return true;
      },
    );
  });
});
