import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create as createTar } from "tar";
import type { RunningServer } from "../../../src/server.js";
import { listenToFixtures, type FixtureEvents } from "../../helpers/fixture-events.js";
import { irisModelDir, setosaRow, startTestServer } from "../../helpers/server.js";

const scratch = await mkdtemp(join(tmpdir(), "byoc-mme-"));
const root = join(scratch, "models");
after(() => rm(scratch, { recursive: true, force: true }));

const rows = JSON.stringify({ instances: [setosaRow] });

/** An iris model directory under the models root, optionally with handlers of its own. */
async function irisModel(name: string, handlers?: string): Promise<string> {
  const dir = join(root, name, "model");
  await mkdir(dir, { recursive: true });
  await copyFile(join(irisModelDir, "iris.onnx"), join(dir, "iris.onnx"));
  if (handlers !== undefined) {
    await mkdir(join(dir, "code"), { recursive: true });
    await writeFile(join(dir, "code", "inference.mjs"), handlers);
  }
  return dir;
}

async function post(server: RunningServer, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe("the multi-model API", () => {
  let server: RunningServer;
  let fixtures: FixtureEvents;
  before(async () => {
    fixtures = listenToFixtures();
    await mkdir(root, { recursive: true });
    server = await startTestServer({ multiModel: true, modelsRoot: root, workers: 2 });
    await server.loaded;
  });
  after(async () => {
    await server.close();
    fixtures.close();
  });

  test("/ping is 200 with no model loaded, and /invocations says to use /models/{name}/invoke", async () => {
    assert.equal((await fetch(`${server.url}/ping`)).status, 200);
    assert.deepEqual(await (await fetch(`${server.url}/models`)).json(), { models: [] });
    const invocations = await post(server, "/invocations", rows);
    assert.equal(invocations.status, 404);
    assert.match(((await invocations.json()) as { error: { message: string } }).error.message, /POST \/models\/\{name\}\/invoke/);
  });

  test("load, describe, invoke and unload answer 200 with the documented bodies; repeats answer 409 and 404", async () => {
    const url = await irisModel("iris-a");
    const loaded = await post(server, "/models", { model_name: "iris-a", url });
    assert.equal(loaded.status, 200);
    assert.deepEqual(await loaded.json(), { modelName: "iris-a", modelUrl: url });
    const again = await post(server, "/models", { model_name: "iris-a", url });
    assert.equal(again.status, 409);
    assert.equal(await errorCode(again), "MODEL_ALREADY_LOADED");
    assert.deepEqual(await (await fetch(`${server.url}/models/iris-a`)).json(), { modelName: "iris-a", modelUrl: url });
    const invoked = await post(server, "/models/iris-a/invoke", rows);
    assert.equal(invoked.status, 200);
    assert.equal(((await invoked.json()) as { predictions: number[][] }).predictions[0]?.length, 3);
    const unloaded = await fetch(`${server.url}/models/iris-a`, { method: "DELETE" });
    assert.equal(unloaded.status, 200);
    for (const response of [
      await fetch(`${server.url}/models/iris-a`),
      await fetch(`${server.url}/models/iris-a`, { method: "DELETE" }),
      await post(server, "/models/iris-a/invoke", rows),
    ]) {
      assert.equal(response.status, 404);
      assert.equal(await errorCode(response), "MODEL_NOT_FOUND");
    }
  });

  test("the list pages with limit and next_page_token, in name order", async () => {
    for (const name of ["page-c", "page-a", "page-b"]) assert.equal((await post(server, "/models", { model_name: name, url: await irisModel(name) })).status, 200);
    const first = (await (await fetch(`${server.url}/models?limit=2`)).json()) as { models: { modelName: string }[]; nextPageToken?: string };
    assert.deepEqual(first.models.map((model) => model.modelName), ["page-a", "page-b"]);
    assert.ok(first.nextPageToken);
    const second = (await (await fetch(`${server.url}/models?limit=2&next_page_token=${first.nextPageToken}`)).json()) as { models: { modelName: string }[]; nextPageToken?: string };
    assert.deepEqual(second.models.map((model) => model.modelName), ["page-c"]);
    assert.equal(second.nextPageToken, undefined);
    for (const name of ["page-a", "page-b", "page-c"]) await fetch(`${server.url}/models/${name}`, { method: "DELETE" });
  });

  test("two loads of one model at once share one load, and both answer 200", async () => {
    const url = await irisModel("twice", 'import { reportToTest } from "' + new URL("../../helpers/fixture-events.ts", import.meta.url).href + '";\nexport function modelFn(dir, ctx) { reportToTest({ event: "model-loaded", model: ctx.modelName }); return ctx.loadOnnxModels(dir); }\n');
    const answers = await Promise.all([post(server, "/models", { model_name: "twice", url }), post(server, "/models", { model_name: "twice", url })]);
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200]);
    await fixtures.next("the load", (event) => event.event === "model-loaded" && event["model"] === "twice");
    assert.equal(fixtures.events.filter((event) => event.event === "model-loaded" && event["model"] === "twice").length, 1);
    await fetch(`${server.url}/models/twice`, { method: "DELETE" });
  });

  test("a url outside the models root is 400 and nothing in it is read, whether by .. or through a link", async () => {
    const outside = join(scratch, "outside", "model");
    await mkdir(join(outside, "code"), { recursive: true });
    const marker = join(scratch, "outside-was-imported");
    await writeFile(join(outside, "code", "inference.mjs"), `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "imported");\n`);
    await copyFile(join(irisModelDir, "iris.onnx"), join(outside, "iris.onnx"));
    await mkdir(join(root, "linked"), { recursive: true });
    await symlink(outside, join(root, "linked", "model"));
    for (const url of [outside, join(root, "..", "outside", "model"), join(root, "linked", "model"), "relative/model", join(root, "missing", "model")]) {
      const response = await post(server, "/models", { model_name: "hostile", url });
      assert.equal(response.status, 400, url);
      assert.equal(await errorCode(response), "INVALID_MODEL_URL");
    }
    assert.deepEqual((await readdir(scratch)).filter((name) => name === "outside-was-imported"), []);
    assert.equal((await fetch(`${server.url}/models/hostile`)).status, 404);
  });

  test("each model runs its own handlers, sees the X-Amzn-SageMaker-Target-Model header, and a model without handlers gets the defaults", async () => {
    const echo = "export function transformFn(model, body, contentType, accept, ctx) { return { body: JSON.stringify({ own: 'handlers', targetModel: ctx.targetModel }), contentType: 'application/json' }; }\n";
    await post(server, "/models", { model_name: "own", url: await irisModel("own", echo) });
    await post(server, "/models", { model_name: "plain", url: await irisModel("plain") });
    const own = await post(server, "/models/own/invoke", rows, { "x-amzn-sagemaker-target-model": "own.tar.gz" });
    assert.deepEqual(await own.json(), { own: "handlers", targetModel: "own.tar.gz" });
    const plain = await post(server, "/models/plain/invoke", rows);
    assert.ok("predictions" in ((await plain.json()) as object));
    for (const name of ["own", "plain"]) await fetch(`${server.url}/models/${name}`, { method: "DELETE" });
  });

  test("a model.tar.gz in the model directory is unpacked and served", async () => {
    const dir = join(root, "packed", "model");
    await mkdir(dir, { recursive: true });
    await createTar({ gzip: true, file: join(dir, "model.tar.gz"), cwd: irisModelDir }, ["iris.onnx"]);
    assert.equal((await post(server, "/models", { model_name: "packed", url: dir })).status, 200);
    assert.equal((await post(server, "/models/packed/invoke", rows)).status, 200);
    await fetch(`${server.url}/models/packed`, { method: "DELETE" });
  });

  test("requests to one model keep succeeding while other models load and unload", async () => {
    await post(server, "/models", { model_name: "steady", url: await irisModel("steady") });
    const churnUrl = await irisModel("churn");
    let churning = true;
    const churn = (async () => {
      for (let round = 0; churning && round < 50; round++) {
        assert.equal((await post(server, "/models", { model_name: "churn", url: churnUrl })).status, 200);
        assert.equal((await fetch(`${server.url}/models/churn`, { method: "DELETE" })).status, 200);
      }
    })();
    const statuses: number[] = [];
    for (let index = 0; index < 100; index++) statuses.push((await post(server, "/models/steady/invoke", rows)).status);
    churning = false;
    await churn;
    assert.deepEqual([...new Set(statuses)], [200]);
    await fetch(`${server.url}/models/steady`, { method: "DELETE" });
  });
});

describe("the memory budget", () => {
  // Each model holds a buffer of a known size, so what its load measures is known: 8 MiB, or 24 MiB for "big".
  const mib = 1024 * 1024;
  const events = new URL("../../helpers/fixture-events.ts", import.meta.url).href;
  const holding = (bytes: number) =>
    `import { releasedByTest, reportToTest } from "${events}";\n` +
    `export function modelFn() { return Buffer.alloc(${bytes}, 1); }\n` +
    "export async function transformFn(model, body, contentType, accept, ctx) {\n" +
    "  if (ctx.customAttributes === 'hold') { reportToTest({ event: 'held', inferenceId: ctx.inferenceId }); await releasedByTest(ctx.inferenceId); }\n" +
    "  return 'ok';\n}\n";
  let server: RunningServer;
  let fixtures: FixtureEvents;
  const urls = new Map<string, string>();
  before(async () => {
    fixtures = listenToFixtures();
    for (const [name, bytes] of [["w1", 8 * mib], ["w2", 8 * mib], ["w3", 8 * mib], ["w4", 8 * mib], ["big", 24 * mib]] as const) {
      const dir = join(root, name, "model");
      await mkdir(join(dir, "code"), { recursive: true });
      await writeFile(join(dir, "code", "inference.mjs"), holding(bytes));
      urls.set(name, dir);
    }
    // Room for three 8 MiB models, not four.
    server = await startTestServer({ multiModel: true, modelsRoot: root, workers: 1, modelMemoryBudgetBytes: 30 * mib });
    await server.loaded;
  });
  after(async () => {
    await server.close();
    fixtures.close();
  });

  const load = (name: string) => post(server, "/models", { model_name: name, url: urls.get(name) });
  const invokeModel = (name: string, headers: Record<string, string> = {}) => post(server, `/models/${name}/invoke`, "x", headers);
  const loadedNames = async () => ((await (await fetch(`${server.url}/models`)).json()) as { models: { modelName: string }[] }).models.map((model) => model.modelName);
  const unloadAll = async () => {
    for (const name of await loadedNames()) await fetch(`${server.url}/models/${name}`, { method: "DELETE" });
  };

  test("past the budget the least recently used idle model is unloaded to make room", async () => {
    for (const name of ["w1", "w2", "w3"]) assert.equal((await load(name)).status, 200);
    assert.deepEqual(await loadedNames(), ["w1", "w2", "w3"], "three fit");
    assert.equal((await invokeModel("w1")).status, 200, "w1 is now the most recently used");
    assert.equal((await load("w4")).status, 200);
    assert.deepEqual(await loadedNames(), ["w1", "w3", "w4"], "w2, used least recently, made room");
    assert.equal((await invokeModel("w2")).status, 404);
    await unloadAll();
  });

  test("a model serving a request is never unloaded to make room, and a model that fits only without it is a 507", async () => {
    assert.equal((await load("w1")).status, 200);
    const held = invokeModel("w1", { "x-amzn-sagemaker-inference-id": "budget-held", "x-amzn-sagemaker-custom-attributes": "hold" });
    await fixtures.next("the held request", (event) => event.event === "held" && event.inferenceId === "budget-held");
    for (const name of ["w2", "w3"]) assert.equal((await load(name)).status, 200);
    // w1 is the least recently used, but busy: w2 goes instead.
    assert.equal((await load("w4")).status, 200);
    assert.deepEqual(await loadedNames(), ["w1", "w3", "w4"]);
    // 24 MiB fits only if w1 goes too; it is busy, so: 507, and the idle ones made way for nothing more.
    const refused = await load("big");
    assert.equal(refused.status, 507);
    assert.equal(await errorCode(refused), "INSUFFICIENT_MEMORY");
    assert.ok((await loadedNames()).includes("w1"));
    fixtures.release("budget-held");
    assert.equal((await held).status, 200);
    await unloadAll();
  });
});
