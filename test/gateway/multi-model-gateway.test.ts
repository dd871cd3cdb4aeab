import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  InternalDependencyException,
  InvokeEndpointAsyncCommand,
  InvokeEndpointCommand,
  ModelError,
  ModelNotReadyException,
  SageMakerRuntimeClient,
  ServiceUnavailable,
  ValidationError,
} from "@aws-sdk/client-sagemaker-runtime";
import { create as createTar } from "tar";
import { loadAsyncConfig, type AsyncConfigOverrides } from "../../src/config/async-config.js";
import { startAsyncGateway, type RunningAsyncGateway } from "../../src/gateway/index.js";
import { HttpInvoker } from "../../src/gateway/invoker.js";
import { HttpModelHost } from "../../src/gateway/multi-model/model-host.js";
import { startAsyncForServe } from "../../src/cli/async-flags.js";
import { ConfigurationError } from "../../src/errors.js";
import type { RunningServer } from "../../src/server.js";
import { captureLog, type LogRecord } from "../helpers/capture-log.js";
import { freePort } from "../helpers/free-port.js";
import { listenToFixtures, type FixtureEvents } from "../helpers/fixture-events.js";
import { s3Credentials, startTestS3, type TestS3 } from "../helpers/s3-server.js";
import { irisModelDir, setosaRow, startTestServer } from "../helpers/server.js";

const mib = 1024 * 1024;
const events = new URL("../helpers/fixture-events.ts", import.meta.url).href;
const scratch = await mkdtemp(join(tmpdir(), "byoc-mme-gateway-"));
after(() => rm(scratch, { recursive: true, force: true }));

/**
 * Handlers of a model that holds `bytes` of memory (so the container's budget is known to the
 * byte), says when it loads, can wait for the test before it loads (`gate`), holds a request until
 * the test releases it (custom attributes `hold`), and answers with its own name.
 */
function holdingHandlers(name: string, bytes: number, gate = false): string {
  return (
    `import { releasedByTest, reportToTest } from "${events}";\n` +
    `export async function modelFn() { reportToTest({ event: "model-loaded", model: "${name}" });${gate ? ` await releasedByTest("load-${name}");` : ""} return Buffer.alloc(${bytes}, 1); }\n` +
    "export async function transformFn(model, body, contentType, accept, ctx) {\n" +
    "  if (ctx.customAttributes === 'hold') { reportToTest({ event: 'held', inferenceId: ctx.inferenceId }); await releasedByTest(ctx.inferenceId); }\n" +
    `  return { body: JSON.stringify({ model: "${name}", targetModel: ctx.targetModel }), contentType: "application/json" };\n}\n`
  );
}

/** A `model.tar.gz` of `files` (relative path → content), as a user uploads it under the ModelDataUrl prefix. */
async function archiveOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const dir = await mkdtemp(join(scratch, "archive-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const file = `${dir}.tar.gz`;
  await createTar({ gzip: true, file, cwd: dir }, Object.keys(files));
  return readFile(file);
}

const irisArchive = async (): Promise<Buffer> => archiveOf({ "iris.onnx": await readFile(join(irisModelDir, "iris.onnx")) });

interface MmeStack {
  readonly s3: TestS3;
  readonly server: RunningServer;
  readonly gateway: RunningAsyncGateway;
  readonly runtime: SageMakerRuntimeClient;
  readonly modelsRoot: string;
  readonly logs: LogRecord[];
  readonly fixtures: FixtureEvents;
  invoke(targetModel: string, options?: { body?: string; customAttributes?: string; inferenceId?: string }): Promise<{ model?: string; targetModel?: string; predictions?: number[][] }>;
  /** GETs of `mme/<targetModel>` S3 received. */
  downloads(targetModel: string): number;
  /** What the container holds, by the model names the gateway gave. */
  containerModels(): Promise<string[]>;
  waitForLog(msg: string, matches?: (record: LogRecord) => boolean): Promise<LogRecord>;
  close(): Promise<void>;
}

/**
 * The whole multi-model flow on loopback: S3 (s3rver behind a SigV4 check) holding the archives
 * under `s3://models/mme/`, a multi-model server whose models root is the gateway's cache, the
 * gateway in front of it over HTTP, and the unmodified SageMaker Runtime client.
 */
async function startMmeStack(serverOverrides: Parameters<typeof startTestServer>[0], gatewayOverrides: AsyncConfigOverrides = {}, loadWaitMs?: number): Promise<MmeStack> {
  const s3 = await startTestS3("models");
  const modelsRoot = await mkdtemp(join(scratch, "models-"));
  const queueDir = await mkdtemp(join(scratch, "queue-"));
  const server = await startTestServer({ multiModel: true, modelsRoot, workers: 1, ...serverOverrides });
  const { log, records: logs } = captureLog();
  const fixtures = listenToFixtures();
  const config = loadAsyncConfig(
    {},
    {
      endpointName: "mme-endpoint",
      s3Endpoint: s3.endpoint,
      queueDir,
      port: 0,
      host: "127.0.0.1",
      logLevel: "silent",
      shutdownTimeoutMs: 2_000,
      ...gatewayOverrides,
      multiModel: { modelDataUrl: "s3://models/mme/", cacheDir: modelsRoot, ...gatewayOverrides.multiModel },
    },
  );
  const gateway = await startAsyncGateway({
    config,
    invoker: new HttpInvoker(`${server.url}/invocations`),
    multiModel: { host: new HttpModelHost(server.url), ...(loadWaitMs === undefined ? {} : { loadWaitMs }) },
    log,
    credentials: s3Credentials,
  });
  const runtime = new SageMakerRuntimeClient({ endpoint: gateway.url, region: "us-east-1", credentials: { accessKeyId: "any", secretAccessKey: "any" }, maxAttempts: 1 });
  const waiters = new Set<() => void>();
  const logged = (msg: string, matches: (record: LogRecord) => boolean) => logs.find((record) => record.msg === msg && matches(record));
  const poll = setInterval(() => waiters.forEach((waiter) => waiter()), 5);
  return {
    s3,
    server,
    gateway,
    runtime,
    modelsRoot,
    logs,
    fixtures,
    async invoke(targetModel, options = {}) {
      const answer = await runtime.send(
        new InvokeEndpointCommand({
          EndpointName: "mme-endpoint",
          TargetModel: targetModel,
          ContentType: "application/json",
          Body: Buffer.from(options.body ?? JSON.stringify({ instances: [setosaRow] })),
          ...(options.customAttributes === undefined ? {} : { CustomAttributes: options.customAttributes }),
          ...(options.inferenceId === undefined ? {} : { InferenceId: options.inferenceId }),
        }),
      );
      return JSON.parse(Buffer.from(answer.Body ?? []).toString("utf8")) as { model?: string; targetModel?: string };
    },
    downloads: (targetModel) => s3.requestsFor("GET", `mme/${targetModel}`).length,
    async containerModels() {
      const listed = (await (await fetch(`${server.url}/models`)).json()) as { models: { modelName: string }[] };
      return listed.models.map((model) => model.modelName).sort();
    },
    waitForLog(msg, matches = () => true) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no log line "${msg}" within 20 s`));
        }, 20_000);
        const check = (): void => {
          const found = logged(msg, matches);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      clearInterval(poll);
      runtime.destroy();
      await gateway.close();
      await server.close();
      await s3.close();
      fixtures.close();
    },
  };
}

const modelName = (stack: MmeStack, targetModel: string): string => {
  const found = stack.logs.find((record) => record.msg === "model loaded" && record["targetModel"] === targetModel);
  assert.ok(found, `a "model loaded" line for ${targetModel}`);
  return found["model"] as string;
};

describe("the multi-model gateway with iris models", () => {
  let stack: MmeStack;
  before(async () => {
    stack = await startMmeStack({});
    for (const name of ["iris-a", "iris-b", "iris-c", "iris-d"]) await stack.s3.put(`mme/${name}.tar.gz`, await irisArchive());
    await stack.s3.put("mme/not-an-archive.tar.gz", "plain text, not gzip");
  });
  after(() => stack.close());

  test("the first call for a TargetModel fetches and loads it; the second is served from what is loaded, with no S3 request and no load", async () => {
    const first = await stack.invoke("iris-a.tar.gz");
    assert.equal(first.predictions?.[0]?.length, 3);
    assert.equal(stack.downloads("iris-a.tar.gz"), 1);
    const name = modelName(stack, "iris-a.tar.gz");
    assert.match(name, /^[0-9a-f]{40}$/, "the container gets an opaque name");
    assert.deepEqual(await stack.containerModels(), [name]);
    assert.deepEqual(await readdir(join(stack.modelsRoot, name, "model")).then((files) => files.filter((file) => file.endsWith(".onnx"))), ["iris.onnx"]);

    const second = await stack.invoke("iris-a.tar.gz");
    assert.deepEqual(second, first);
    assert.equal(stack.downloads("iris-a.tar.gz"), 1, "no second download");
    assert.equal(stack.logs.filter((record) => record.msg === "model loaded" && record["targetModel"] === "iris-a.tar.gz").length, 1, "no second load");
  });

  test("a restarted gateway finds the models it fetched on disk, and a model the container still holds (its 409) counts as loaded", async () => {
    const { log, records } = captureLog();
    const again = await startAsyncGateway({
      config: loadAsyncConfig({}, { endpointName: "mme-endpoint", multiModel: { modelDataUrl: "s3://models/mme/", cacheDir: stack.modelsRoot }, s3Endpoint: stack.s3.endpoint, queueDir: await mkdtemp(join(scratch, "queue-")), port: 0, host: "127.0.0.1" }),
      invoker: new HttpInvoker(`${stack.server.url}/invocations`),
      multiModel: { host: new HttpModelHost(stack.server.url) },
      log,
      credentials: s3Credentials,
    });
    try {
      assert.ok(records.some((record) => record.msg === "model cache indexed" && (record["models"] as number) >= 1));
      const answer = await fetch(`${again.url}/endpoints/mme-endpoint/invocations`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-amzn-sagemaker-target-model": "iris-a.tar.gz" },
        body: JSON.stringify({ instances: [setosaRow] }),
      });
      assert.equal(answer.status, 200);
      assert.equal(stack.downloads("iris-a.tar.gz"), 1, "not downloaded again");
      assert.equal(records.find((record) => record.msg === "model loaded")?.["cached"], true);
    } finally {
      await again.close();
    }
  });

  test("concurrent first calls for one model download and load it once, and all succeed", async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => stack.invoke("iris-b.tar.gz")));
    for (const answer of answers) assert.equal(answer.predictions?.[0]?.length, 3);
    assert.equal(stack.downloads("iris-b.tar.gz"), 1);
    assert.equal(stack.logs.filter((record) => record.msg === "model loaded" && record["targetModel"] === "iris-b.tar.gz").length, 1);
  });

  test("a model the container no longer holds (its 404) is loaded again from the cache and the call succeeds", async () => {
    await stack.invoke("iris-c.tar.gz");
    const name = modelName(stack, "iris-c.tar.gz");
    assert.equal((await fetch(`${stack.server.url}/models/${name}`, { method: "DELETE" })).status, 200);
    const answer = await stack.invoke("iris-c.tar.gz");
    assert.equal(answer.predictions?.[0]?.length, 3);
    await stack.waitForLog("the container no longer holds the model; loading it again", (record) => record["model"] === name);
    assert.equal(stack.logs.filter((record) => record.msg === "model loaded" && record["targetModel"] === "iris-c.tar.gz").length, 2);
    assert.equal(stack.downloads("iris-c.tar.gz"), 1, "reloaded from the cache on disk, not S3");
    assert.ok((await stack.containerModels()).includes(name));
  });

  test("a TargetModel that is not in S3 is a ValidationError naming the bucket and key, and nothing is loaded", async () => {
    const before = await stack.containerModels();
    await assert.rejects(stack.invoke("missing.tar.gz"), (error: unknown) => {
      assert.ok(error instanceof ValidationError, `a ValidationError, got ${(error as Error).name}`);
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.match(error.message, /^Failed to download model data \(bucket: models, key: mme\/missing\.tar\.gz\)\./);
      return true;
    });
    assert.deepEqual(await stack.containerModels(), before);
  });

  test("an object that is not a model archive is a ValidationError saying so", async () => {
    await assert.rejects(stack.invoke("not-an-archive.tar.gz"), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /s3:\/\/models\/mme\/not-an-archive\.tar\.gz is not a model archive/);
      return true;
    });
  });

  test("TargetModel is required, checked as the service checks it, and has no '..' segment", async () => {
    const send = (targetModel: string | undefined) =>
      stack.runtime.send(new InvokeEndpointCommand({ EndpointName: "mme-endpoint", ContentType: "application/json", Body: Buffer.from("{}"), ...(targetModel === undefined ? {} : { TargetModel: targetModel }) }));
    for (const [targetModel, message] of [
      [undefined, /^Request \S+ is missing a target model header/],
      ["../escape.tar.gz", /Value '\.\.\/escape\.tar\.gz' at 'targetModel' failed to satisfy constraint: Member must not have '\.' or '\.\.' path segments/],
      ["x".repeat(1025), /at 'targetModel' failed to satisfy constraint: Member must have length between 1 and 1024/],
    ] as const) {
      await assert.rejects(send(targetModel), (error: unknown) => {
        assert.ok(error instanceof ValidationError, `a ValidationError for ${String(targetModel)}`);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test("InvokeEndpointAsync, which takes no TargetModel, is a ValidationError on a multi-model gateway without an output path", async () => {
    await assert.rejects(stack.runtime.send(new InvokeEndpointAsyncCommand({ EndpointName: "mme-endpoint", InputLocation: "s3://models/in.json" })), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /is a multi-model endpoint: InvokeEndpointAsync takes no TargetModel/);
      return true;
    });
  });

  test("S3 failing while a model is fetched is an InternalDependencyException, and the model loads once S3 is back", async () => {
    await stack.s3.stop();
    try {
      await assert.rejects(stack.invoke("iris-d.tar.gz"), (error: unknown) => {
        assert.ok(error instanceof InternalDependencyException, `an InternalDependencyException, got ${(error as Error).name}`);
        assert.equal(error.$metadata.httpStatusCode, 530);
        return true;
      });
    } finally {
      await stack.s3.restart();
    }
    assert.equal((await stack.invoke("iris-d.tar.gz")).predictions?.[0]?.length, 3);
  });
});

describe("the multi-model gateway under a container memory budget", () => {
  // Each model holds 20 MiB; the container's budget (30 MiB) holds one.
  let stack: MmeStack;
  before(async () => {
    stack = await startMmeStack({ modelMemoryBudgetBytes: 30 * mib });
    for (const name of ["m1", "m2", "m3", "m4"]) await stack.s3.put(`mme/${name}.tar.gz`, await archiveOf({ "code/inference.mjs": holdingHandlers(name, 20 * mib) }));
  });
  after(() => stack.close());

  test("a model the container evicted by itself to make room is loaded again on its next call", async () => {
    assert.equal((await stack.invoke("m1.tar.gz")).model, "m1");
    assert.equal((await stack.invoke("m2.tar.gz")).model, "m2");
    assert.deepEqual(await stack.containerModels(), [modelName(stack, "m2.tar.gz")], "the container unloaded m1 for m2");
    const again = await stack.invoke("m1.tar.gz");
    assert.deepEqual(again, { model: "m1", targetModel: "m1.tar.gz" }, "the container got the original TargetModel");
    assert.deepEqual(await stack.containerModels(), [modelName(stack, "m1.tar.gz")]);
    assert.equal(stack.downloads("m1.tar.gz"), 1);
  });

  test("a 507 makes the gateway unload the least recently used model it loaded, then the load and the call succeed", async () => {
    assert.equal((await stack.invoke("m3.tar.gz")).model, "m3");
    const m3 = modelName(stack, "m3.tar.gz");
    // A request the gateway does not see keeps m3 busy in the container, which therefore cannot
    // make room by itself and answers 507 to the next load.
    const held = fetch(`${stack.server.url}/models/${m3}/invoke`, { method: "POST", body: "x", headers: { "x-amzn-sagemaker-inference-id": "mme-held", "x-amzn-sagemaker-custom-attributes": "hold" } });
    await stack.fixtures.next("the held request", (event) => event.event === "held" && event.inferenceId === "mme-held");
    const answer = stack.invoke("m4.tar.gz");
    // m2 comes first (the gateway still counts it as loaded: the container's 404 to its DELETE says it was not), then m3.
    await stack.waitForLog("the container has no room for the model (507): unloading the least recently used model", (record) => record["unloading"] === m3);
    stack.fixtures.release("mme-held");
    assert.equal((await held).status, 200, "the busy model finished its request before it was unloaded");
    assert.equal((await answer).model, "m4");
    assert.deepEqual(await stack.containerModels(), [modelName(stack, "m4.tar.gz")]);
  });

  test("a 507 with no model the gateway may unload reaches the client as a ModelError carrying 507", async () => {
    const m4 = modelName(stack, "m4.tar.gz");
    const held = stack.invoke("m4.tar.gz", { customAttributes: "hold", inferenceId: "mme-held-2" });
    await stack.fixtures.next("the held request", (event) => event.event === "held" && event.inferenceId === "mme-held-2");
    await assert.rejects(stack.invoke("m1.tar.gz"), (error: unknown) => {
      assert.ok(error instanceof ModelError, `a ModelError, got ${(error as Error).name}`);
      assert.equal(error.OriginalStatusCode, 507);
      return true;
    });
    assert.deepEqual(await stack.containerModels(), [m4], "the model serving a request stayed");
    stack.fixtures.release("mme-held-2");
    assert.equal((await held).model, "m4");
  });
});

describe("the multi-model gateway while a load is slow", () => {
  let stack: MmeStack;
  before(async () => {
    stack = await startMmeStack({}, {}, 200);
    await stack.s3.put("mme/slow.tar.gz", await archiveOf({ "code/inference.mjs": holdingHandlers("slow", 1024, true) }));
  });
  after(() => stack.close());

  test("a call that outwaits the load wait gets ModelNotReadyException; the load goes on, once", async () => {
    await assert.rejects(stack.invoke("slow.tar.gz"), (error: unknown) => {
      assert.ok(error instanceof ModelNotReadyException, `a ModelNotReadyException, got ${(error as Error).name}`);
      assert.equal(error.$metadata.httpStatusCode, 429);
      return true;
    });
    await stack.fixtures.next("the load", (event) => event.event === "model-loaded" && event["model"] === "slow");
    stack.fixtures.release("load-slow");
    await stack.waitForLog("model loaded", (record) => record["targetModel"] === "slow.tar.gz");
    assert.equal((await stack.invoke("slow.tar.gz")).model, "slow");
    assert.equal(stack.fixtures.events.filter((event) => event.event === "model-loaded" && event["model"] === "slow").length, 1);
  });
});

describe("the multi-model gateway's disk cache", () => {
  let stack: MmeStack;
  before(async () => {
    stack = await startMmeStack({}, { multiModel: { cacheMaxBytes: 25_000 } });
    // Each model's files: about 10 kB extracted, so the cache holds two.
    for (const name of ["d1", "d2", "d3"]) await stack.s3.put(`mme/${name}.tar.gz`, await archiveOf({ "code/inference.mjs": holdingHandlers(name, 1024), "padding.bin": "p".repeat(10_000) }));
    // Random bytes do not compress: an archive larger than the whole cache.
    await stack.s3.put("mme/huge.tar.gz", await archiveOf({ "weights.bin": randomBytes(40_000) }));
  });
  after(() => stack.close());

  test("past its size the least recently used model leaves the disk, and its next call fetches it again", async () => {
    for (const name of ["d1", "d2", "d3"]) assert.equal((await stack.invoke(`${name}.tar.gz`)).model, name);
    const cached = (await readdir(stack.modelsRoot)).filter((entry) => /^[0-9a-f]{40}$/.test(entry)).sort();
    assert.deepEqual(cached, [modelName(stack, "d2.tar.gz"), modelName(stack, "d3.tar.gz")].sort());
    await stack.waitForLog("model removed from the cache", (record) => record["model"] === modelName(stack, "d1.tar.gz"));
    // The container still holds d1 (its memory copy): the call succeeds without a download.
    assert.equal((await stack.invoke("d1.tar.gz")).model, "d1");
    assert.equal(stack.downloads("d1.tar.gz"), 1);
    await fetch(`${stack.server.url}/models/${modelName(stack, "d1.tar.gz")}`, { method: "DELETE" });
    assert.equal((await stack.invoke("d1.tar.gz")).model, "d1");
    assert.equal(stack.downloads("d1.tar.gz"), 2, "fetched again once the container had let it go");
  });

  test("an archive larger than the whole cache is a ValidationError saying so", async () => {
    await assert.rejects(stack.invoke("huge.tar.gz"), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /huge\.tar\.gz is \d+ bytes, more than the gateway's model cache holds \(25000 bytes, BYOC_MME_CACHE_MAX_BYTES\)/);
      return true;
    });
  });
});

describe("boto3 against the multi-model gateway", () => {
  let stack: MmeStack;
  before(async () => {
    stack = await startMmeStack({});
    await stack.s3.put("mme/boto.tar.gz", await irisArchive());
  });
  after(() => stack.close());

  // python3-boto3 is a Debian package (scripts/install-system-deps.sh).
  test("boto3's invoke_endpoint with TargetModel loads the model and returns its prediction", async () => {
    const script = [
      "import boto3, json, sys",
      "client = boto3.client('sagemaker-runtime', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='any', aws_secret_access_key='any')",
      "answer = client.invoke_endpoint(EndpointName='mme-endpoint', TargetModel='boto.tar.gz', ContentType='application/json', Body=json.dumps({'instances': [[5.1, 3.5, 1.4, 0.2]]}))",
      "print(answer['Body'].read().decode())",
      "try:",
      "    client.invoke_endpoint(EndpointName='mme-endpoint', TargetModel='absent.tar.gz', ContentType='application/json', Body='{}')",
      "except client.exceptions.ValidationError as error:",
      "    print(error.response['Error']['Code'])",
    ].join("\n");
    const { stdout } = await promisify(execFile)("/usr/bin/python3", ["-c", script, stack.gateway.url], { timeout: 60_000 });
    const [prediction, missing] = stdout.trim().split("\n");
    assert.equal((JSON.parse(prediction ?? "") as { predictions: number[][] }).predictions[0]?.length, 3);
    assert.equal(missing, "ValidationError");
  });
});

describe("serve --multi-model --async: the gateway in the model server's process", () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startTestS3("models");
    await s3.put("mme/iris.tar.gz", await irisArchive());
  });
  after(() => s3.close());

  const gatewayConfig = (overrides: AsyncConfigOverrides) =>
    loadAsyncConfig({}, { endpointName: "mme-endpoint", s3Endpoint: s3.endpoint, queueDir: join(scratch, `queue-${Math.random()}`), port: 0, host: "127.0.0.1", logLevel: "silent", ...overrides });

  test("InvokeEndpoint with TargetModel fetches into the server's models root, loads on its registry, and reloads a model the registry let go", async () => {
    const modelsRoot = await mkdtemp(join(scratch, "in-process-"));
    const server = await startTestServer({ multiModel: true, modelsRoot });
    const port = await freePort();
    // serve's gateway uses the SDK's own credential chain: the environment, as in a container.
    const saved = { id: process.env["AWS_ACCESS_KEY_ID"], secret: process.env["AWS_SECRET_ACCESS_KEY"] };
    process.env["AWS_ACCESS_KEY_ID"] = s3Credentials.accessKeyId;
    process.env["AWS_SECRET_ACCESS_KEY"] = s3Credentials.secretAccessKey;
    after(() => {
      for (const [name, value] of [["AWS_ACCESS_KEY_ID", saved.id], ["AWS_SECRET_ACCESS_KEY", saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
    const close = await startAsyncForServe(gatewayConfig({ port, multiModel: { modelDataUrl: "s3://models/mme/", cacheDir: "/elsewhere" } }), server);
    try {
      const gatewayUrl = `http://127.0.0.1:${port}`;
      const runtime = new SageMakerRuntimeClient({ endpoint: gatewayUrl, region: "us-east-1", credentials: { accessKeyId: "any", secretAccessKey: "any" }, maxAttempts: 1 });
      const call = async () => {
        const answer = await runtime.send(new InvokeEndpointCommand({ EndpointName: "mme-endpoint", TargetModel: "iris.tar.gz", ContentType: "application/json", Body: Buffer.from(JSON.stringify({ instances: [setosaRow] })) }));
        return JSON.parse(Buffer.from(answer.Body ?? []).toString("utf8")) as { predictions: number[][] };
      };
      assert.equal((await call()).predictions[0]?.length, 3);
      const registry = server.registry;
      assert.ok(registry !== undefined);
      const [loaded] = registry.list().models;
      assert.ok(loaded !== undefined);
      assert.equal(loaded.modelUrl, join(modelsRoot, loaded.modelName, "model"), "fetched into the server's models root, not the configured cache dir");
      await registry.unload(loaded.modelName);
      assert.equal((await call()).predictions[0]?.length, 3, "loaded again after the registry's 404");
      assert.equal(s3.requestsFor("GET", "mme/iris.tar.gz").length, 1);
      runtime.destroy();
    } finally {
      await close();
    }
  });

  test("a ModelDataUrl needs a multi-model server, and a multi-model server's gateway needs a ModelDataUrl; the server is closed either way", async () => {
    const single = await startTestServer({});
    await assert.rejects(startAsyncForServe(gatewayConfig({ multiModel: { modelDataUrl: "s3://models/mme/" } }), single), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /--model-data-url s3:\/\/models\/mme\/ needs a multi-model server: add --multi-model/);
      return true;
    });
    const multi = await startTestServer({ multiModel: true, modelsRoot: await mkdtemp(join(scratch, "no-prefix-")) });
    await assert.rejects(startAsyncForServe(gatewayConfig({ s3OutputPath: "s3://models/out" }), multi), /--async on a multi-model server needs the models' S3 prefix/);
    for (const server of [single, multi]) assert.equal(await fetch(`${server.url}/ping`).then(() => "answered", () => "closed"), "closed");
  });

  test("startAsyncGateway refuses a ModelDataUrl without a model host, and a model host without a ModelDataUrl", async () => {
    const server = await startTestServer({ multiModel: true, modelsRoot: await mkdtemp(join(scratch, "refuse-")) });
    try {
      const invoker = new HttpInvoker(`${server.url}/invocations`);
      await assert.rejects(startAsyncGateway({ config: gatewayConfig({ multiModel: { modelDataUrl: "s3://models/mme/" } }), invoker }), /needs a multi-model container behind it/);
      await assert.rejects(
        startAsyncGateway({ config: gatewayConfig({ s3OutputPath: "s3://models/out" }), invoker, multiModel: { host: new HttpModelHost(server.url) } }),
        /A multi-model gateway needs the models' S3 prefix/,
      );
    } finally {
      await server.close();
    }
  });

  test("a container that cannot be reached is a ServiceUnavailable, as for /invocations", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const gateway = await startAsyncGateway({
      config: gatewayConfig({ multiModel: { modelDataUrl: "s3://models/mme/", cacheDir: await mkdtemp(join(scratch, "unreachable-")) } }),
      invoker: new HttpInvoker(`${closed}/invocations`),
      multiModel: { host: new HttpModelHost(closed) },
      credentials: s3Credentials,
    });
    const runtime = new SageMakerRuntimeClient({ endpoint: gateway.url, region: "us-east-1", credentials: { accessKeyId: "any", secretAccessKey: "any" }, maxAttempts: 1 });
    try {
      await assert.rejects(
        runtime.send(new InvokeEndpointCommand({ EndpointName: "mme-endpoint", TargetModel: "iris.tar.gz", ContentType: "application/json", Body: Buffer.from("{}") })),
        (error: unknown) => {
          assert.ok(error instanceof ServiceUnavailable, `a ServiceUnavailable, got ${(error as Error).name}`);
          assert.match(error.message, /Could not reach the model container/);
          return true;
        },
      );
    } finally {
      runtime.destroy();
      await gateway.close();
    }
  });
});
