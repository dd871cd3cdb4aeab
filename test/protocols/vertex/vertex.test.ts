/**
 * Vertex AI's custom-container conventions (docs/vertex.md): the routes its variables name,
 * instances and parameters in, predictions out, its request size limit, its port variable and a
 * local AIP_STORAGE_URI, with the iris model unchanged.
 */
import assert from "node:assert/strict";
import { pathToFileURL, fileURLToPath } from "node:url";
import { test } from "node:test";
import { ConfigurationError } from "../../../src/errors.js";
import { resolveSettings } from "../../../src/config/resolve.js";
import { loadConfig, serverSettings } from "../../../src/config/server-config.js";
import { startServer, type RunningServer } from "../../../src/server.js";
import { irisModelDir, setosaRow, startTestServer } from "../../helpers/server.js";

const vertexEnv = { AIP_PREDICT_ROUTE: "/v1/endpoints/123/deployedModels/456:predict", AIP_HEALTH_ROUTE: "/v1/endpoints/123/deployedModels/456" };
const predictUrl = (server: RunningServer): string => `${server.url}${vertexEnv.AIP_PREDICT_ROUTE}`;
const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/handlers/${name}`, import.meta.url));

async function withServer(overrides: Parameters<typeof startTestServer>[0], env: Record<string, string>, run: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(overrides, env);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

function post(url: string, body: NonNullable<RequestInit["body"]>): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
}

test("the iris model answers a Vertex AI prediction on AIP_PREDICT_ROUTE as /invocations does, and AIP_HEALTH_ROUTE answers 200", async () => {
  await withServer({}, vertexEnv, async (server) => {
    const request = JSON.stringify({ instances: [setosaRow, [6.9, 3.1, 5.4, 2.1]], parameters: { confidence: 0.9 } });
    const response = await post(predictUrl(server), request);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    const body = (await response.json()) as { predictions: number[][] };
    assert.equal(body.predictions.length, 2);
    const sagemaker = await (await post(`${server.url}/invocations`, JSON.stringify({ instances: [setosaRow, [6.9, 3.1, 5.4, 2.1]] }))).json();
    assert.deepEqual(body, sagemaker);
    const health = await fetch(`${server.url}${vertexEnv.AIP_HEALTH_ROUTE}`);
    assert.equal(health.status, 200);
  });
});

test("parameters reach the handlers as ctx.parameters; instances are the input; JSON in and out whatever the headers say", async () => {
  await withServer({ handlersPath: fixture("vertex-parameters.ts") }, vertexEnv, async (server) => {
    const response = await fetch(predictUrl(server), {
      method: "POST",
      headers: { "content-type": "text/plain", accept: "text/csv" },
      body: JSON.stringify({ instances: [{ text: "hello" }], parameters: { temperature: 0.2, topK: 5 } }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      predictions: [{ instance: { text: "hello" }, parameters: { temperature: 0.2, topK: 5 }, contentType: "application/json", accept: "application/json" }],
    });
    const without = await (await post(predictUrl(server), JSON.stringify({ instances: [1] }))).json();
    assert.deepEqual(without, { predictions: [{ instance: 1, parameters: null, contentType: "application/json", accept: "application/json" }] });
  });
});

test("a body that is not a prediction request is a 400 that shows the expected form", async () => {
  await withServer({}, vertexEnv, async (server) => {
    const cases: [string, RegExp][] = [
      [JSON.stringify({ inputs: [setosaRow] }), /no "instances" array: a Vertex AI prediction request is \{"instances": \[\.\.\.\], "parameters": \{\.\.\.\}\}/],
      [JSON.stringify([setosaRow]), /no "instances" array/],
      [JSON.stringify({ instances: [setosaRow], parameters: [1] }), /"parameters" must be an object/],
      ["{", /Invalid JSON body/],
      ["", /Empty request body/],
    ];
    for (const [body, message] of cases) {
      const response = await post(predictUrl(server), body);
      assert.equal(response.status, 400, body);
      const answer = (await response.json()) as { error: { message: string } };
      assert.match(answer.error.message, message);
    }
  });
});

test("the predict route takes at most BYOC_VERTEX_MAX_PAYLOAD_BYTES (1.5 MiB by default); /invocations keeps its own limit", async () => {
  assert.equal(loadConfig({}).vertex.maxPayloadBytes, 1.5 * 1024 * 1024);
  await withServer({ vertex: { maxPayloadBytes: 1024 } }, vertexEnv, async (server) => {
    const large = JSON.stringify({ instances: Array.from({ length: 100 }, () => setosaRow) });
    assert.ok(large.length > 1024);
    const refused = await post(predictUrl(server), large);
    assert.equal(refused.status, 413);
    assert.equal((await post(`${server.url}/invocations`, large)).status, 200);
  });
});

test("the health route is 503 while the model loads, as /ping is", async () => {
  const server = await startServer({ port: 0, host: "127.0.0.1", modelDir: irisModelDir, workers: 1, logLevel: "silent", handlersPath: fixture("slow-load.ts") }, vertexEnv);
  try {
    assert.equal((await fetch(`${server.url}${vertexEnv.AIP_HEALTH_ROUTE}`)).status, 503);
    await server.loaded;
    assert.equal((await fetch(`${server.url}${vertexEnv.AIP_HEALTH_ROUTE}`)).status, 200);
  } finally {
    await server.close();
  }
});

test("without AIP_PREDICT_ROUTE there is no Vertex AI route", async () => {
  await withServer({}, {}, async (server) => {
    assert.equal((await post(`${server.url}/predict`, JSON.stringify({ instances: [setosaRow] }))).status, 404);
  });
});

test("AIP_HTTP_PORT sets the port; SAGEMAKER_BIND_TO_PORT wins over it, and --port over both", () => {
  assert.equal(loadConfig({ AIP_HTTP_PORT: "7080" }).port, 7080);
  assert.equal(loadConfig({ AIP_HTTP_PORT: "7080", SAGEMAKER_BIND_TO_PORT: "9090" }).port, 9090);
  const flags = { command: "serve" as const, values: { port: "8000" } };
  assert.equal(resolveSettings(serverSettings, { env: { AIP_HTTP_PORT: "7080", SAGEMAKER_BIND_TO_PORT: "9090" }, flags }).port, 8000);
  assert.throws(() => loadConfig({ AIP_HTTP_PORT: "eighty" }), /AIP_HTTP_PORT="eighty" must be a whole number from 0 to 65535/);
});

test("a local AIP_STORAGE_URI, as a path or a file:// URI, is the model directory unless BYOC_MODEL_DIR names one", () => {
  assert.equal(loadConfig({ AIP_STORAGE_URI: "/mnt/artifacts" }).modelDir, "/mnt/artifacts");
  assert.equal(loadConfig({ AIP_STORAGE_URI: pathToFileURL("/mnt/my artifacts").href }).modelDir, "/mnt/my artifacts");
  assert.equal(loadConfig({ AIP_STORAGE_URI: "/mnt/artifacts", BYOC_MODEL_DIR: "/opt/model" }).modelDir, "/opt/model");
  assert.equal(loadConfig({}).modelDir, "/opt/ml/model");
});

test("a gs:// AIP_STORAGE_URI stops start-up with what to do instead, unless a model directory is named", () => {
  assert.throws(
    () => loadConfig({ AIP_STORAGE_URI: "gs://bucket/model" }),
    (error: unknown) =>
      error instanceof ConfigurationError &&
      /^AIP_STORAGE_URI \(gs:\/\/bucket\/model\) is a remote location, which the toolkit does not read: bake the model into the image/.test(error.message) &&
      error.message.includes("BYOC_MODEL_DIR") &&
      error.message.includes("docs/vertex.md"),
  );
  assert.equal(loadConfig({ AIP_STORAGE_URI: "gs://bucket/model", BYOC_MODEL_DIR: "/opt/model" }).modelDir, "/opt/model");
});

test("the iris model served from AIP_STORAGE_URI answers on AIP_PREDICT_ROUTE", async () => {
  const server = await startServer({ port: 0, host: "127.0.0.1", workers: 1, logLevel: "silent" }, { ...vertexEnv, AIP_STORAGE_URI: pathToFileURL(irisModelDir).href });
  try {
    await server.loaded;
    assert.equal(server.config.modelDir, irisModelDir);
    const response = await post(predictUrl(server), JSON.stringify({ instances: [setosaRow] }));
    assert.equal(response.status, 200);
  } finally {
    await server.close();
  }
});

test("Vertex AI's route variables must be paths", () => {
  assert.throws(() => loadConfig({ AIP_PREDICT_ROUTE: "predict" }), /AIP_PREDICT_ROUTE="predict" must be an HTTP path such as \/predict/);
});
