import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { BadRequestError, ConfigurationError, InferenceError, NotAcceptableError } from "../../src/errors.js";
import { createTestEndpoint } from "../../src/testing/index.js";
import { irisModelDir, setosaRow } from "../helpers/server.js";

const fixtures = new URL("../fixtures/handlers/", import.meta.url);
const behaviours = new URL("behaviours.ts", fixtures);
const root = await mkdtemp(join(tmpdir(), "byoc-test-endpoint-"));
after(() => rm(root, { recursive: true, force: true }));

test("without handlers, the ONNX model is served by the defaults: JSON in, predictions out", async () => {
  const endpoint = await createTestEndpoint({ modelDir: irisModelDir });
  try {
    const response = await endpoint.invoke({ json: { instances: [setosaRow] } });
    assert.equal(response.contentType, "application/json");
    const [probabilities] = response.json<{ predictions: number[][] }>().predictions;
    assert.ok(probabilities !== undefined && (probabilities[0] ?? 0) > 0.99, response.text());
    const csv = await endpoint.invoke({ body: "5.1,3.5,1.4,0.2\n6.9,3.1,5.4,2.1", contentType: "text/csv", accept: "text/csv" });
    assert.equal(csv.contentType, "text/csv");
    assert.equal(csv.text().trim().split("\n").length, 2);
  } finally {
    await endpoint.close();
  }
});

test("a TypeScript handlers file gets the request context: content type, accept, inference id, target model", async () => {
  const endpoint = await createTestEndpoint({ handlers: behaviours, modelDir: irisModelDir });
  try {
    const response = await endpoint.invoke({ body: "hello", contentType: "text/plain", accept: "application/json", inferenceId: "id-1", targetModel: "m.onnx" });
    assert.deepEqual(response.json(), { echo: "hello", contentType: "text/plain", accept: "application/json", inferenceId: "id-1", targetModel: "m.onnx" });
    const generated = (await endpoint.invoke({ body: "x", contentType: "text/plain" })).json<{ inferenceId: string; accept: string }>();
    assert.match(generated.inferenceId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "a UUID, as the server generates");
    assert.equal(generated.accept, "application/json", "the default accept");
    const attributes = await endpoint.invoke({ body: "x", contentType: "text/plain", customAttributes: "attributes=v3" });
    assert.equal(attributes.customAttributes, "v3");
  } finally {
    await endpoint.close();
  }
});

test("errors reject as the handlers threw them, with the status the server would answer", async () => {
  const endpoint = await createTestEndpoint({ handlers: behaviours, modelDir: irisModelDir });
  try {
    await assert.rejects(endpoint.invoke({ body: "x", contentType: "text/plain", customAttributes: "status=422" }), (error: Error) => error instanceof InferenceError && error.statusCode === 422);
    await assert.rejects(endpoint.invoke({ body: "x", contentType: "text/plain", customAttributes: "throw" }), /secret internal detail/);
    await assert.rejects(endpoint.invoke({ body: "x", contentType: "text/plain", accept: "image/png" }), (error: Error) => error instanceof InferenceError && error.statusCode === 406);
    await assert.rejects(
      endpoint.invoke({ body: "x", contentType: "text/plain", customAttributes: "wait-for-abort", signal: AbortSignal.abort(new Error("time limit")) }),
      /time limit/,
      "the signal given is ctx.signal",
    );
  } finally {
    await endpoint.close();
  }
  const defaults = await createTestEndpoint({ modelDir: irisModelDir });
  try {
    await assert.rejects(defaults.invoke({ body: "{nope", contentType: "application/json" }), (error: Error) => error instanceof BadRequestError && error.statusCode === 400);
    await assert.rejects(defaults.invoke({ json: { instances: [setosaRow] }, accept: "image/png" }), (error: Error) => error instanceof NotAcceptableError && error.statusCode === 406);
    await assert.rejects(defaults.invoke({ json: { instances: [[1, 2, 3]] } }), (error: Error) => error instanceof BadRequestError && /expects shape/.test(error.message));
    await assert.rejects(defaults.invoke({ body: "x", json: {} }), /Give a request body or json, not both/);
  } finally {
    await defaults.close();
  }
  await assert.rejects(defaults.invoke({ json: {} }), /closed/);
});

test("the handlers module itself, checked as serve checks it", async () => {
  const endpoint = await createTestEndpoint({
    modelDir: irisModelDir,
    handlers: { modelFn: () => ({ prefix: ">" }), transformFn: (model: { prefix: string }, body: Buffer) => `${model.prefix}${body.toString()}` },
  });
  assert.deepEqual(endpoint.model, { prefix: ">" });
  assert.equal((await endpoint.invoke({ body: "hi", accept: "text/plain" })).text(), ">hi");
  await endpoint.close();
  await assert.rejects(
    createTestEndpoint({ modelDir: irisModelDir, handlers: { transformFn: () => "", predictFn: () => 1 } }),
    (error: Error) => error instanceof ConfigurationError && /exports transformFn together with predictFn/.test(error.message),
  );
});

test("without handlers given, code/inference.* is found as serve finds it, from the working directory", async () => {
  const project = join(root, "project");
  await mkdir(join(project, "code"), { recursive: true });
  await writeFile(join(project, "code", "inference.mjs"), 'export const transformFn = () => ({ body: "from the project", contentType: "text/plain" });\n');
  const previous = process.cwd();
  process.chdir(project);
  try {
    const endpoint = await createTestEndpoint({ modelDir: pathToFileURL(irisModelDir) });
    assert.equal((await endpoint.invoke({ body: "" })).text(), "from the project");
    await endpoint.close();
  } finally {
    process.chdir(previous);
  }
});

test("settings come from the env option, validated as the server validates them; a missing model directory names the flag", async () => {
  const endpoint = await createTestEndpoint({ modelDir: irisModelDir, env: { SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "text/csv" } });
  try {
    const response = await endpoint.invoke({ body: "5.1,3.5,1.4,0.2", contentType: "text/csv" });
    assert.equal(response.contentType, "text/csv");
  } finally {
    await endpoint.close();
  }
  await assert.rejects(createTestEndpoint({ modelDir: irisModelDir, env: { SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "image/png" } }), /SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=image\/png has no codec/);
  await assert.rejects(createTestEndpoint({ modelDir: join(root, "absent") }), /does not exist; pass --model-dir <dir> \(or set BYOC_MODEL_DIR\)/);
});
