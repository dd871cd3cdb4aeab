/**
 * A multi-model endpoint gives a tiny model the inline lane a single-model endpoint's gets
 * (docs/inline-lane.md): its lone requests run on the HTTP thread, with the same answers, and its
 * copy there is charged to the memory budget as much as its worker's.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { RunningServer } from "../../src/server.js";
import { irisModelDir, setosaRow, startTestServer } from "../helpers/server.js";

const mib = 1024 * 1024;

/** The iris model under `root`, with a file of `paddingBytes` beside it: a model is charged at least the size of its files. */
async function irisModel(root: string, name: string, paddingBytes = 0): Promise<string> {
  const dir = join(root, name, "model");
  await mkdir(dir, { recursive: true });
  await copyFile(join(irisModelDir, "iris.onnx"), join(dir, "iris.onnx"));
  if (paddingBytes > 0) await writeFile(join(dir, "padding.bin"), Buffer.alloc(paddingBytes));
  return dir;
}

async function post(server: RunningServer, path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

async function loadedNames(server: RunningServer): Promise<string[]> {
  return ((await (await fetch(`${server.url}/models`)).json()) as { models: { modelName: string }[] }).models.map((model) => model.modelName);
}

describe("inline lanes on a multi-model endpoint", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "byoc-mme-inline-"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("a tiny model loaded with POST /models runs inline, answers as without the lane, and stops once unloaded", async () => {
    const url = await irisModel(root, "iris");
    const inline = await startTestServer({ multiModel: true, modelsRoot: root, workers: 1 });
    const plain = await startTestServer({ multiModel: true, modelsRoot: root, workers: 1, inlineTinyModels: false });
    try {
      for (const server of [inline, plain]) assert.equal((await post(server, "/models", JSON.stringify({ model_name: "iris", url }))).status, 200);
      assert.equal(inline.registry?.runsInline("iris"), true);
      assert.equal(plain.registry?.runsInline("iris"), false);
      const answer = async (server: RunningServer, body: string) => {
        const response = await post(server, "/models/iris/invoke", body, { accept: "application/json" });
        // Error bodies name the request's own inference id; the rest must match.
        return { status: response.status, contentType: response.headers.get("content-type"), text: (await response.text()).replace(/"inferenceId":"[^"]*"/, '"inferenceId":"…"') };
      };
      for (const body of [JSON.stringify({ instances: [setosaRow] }), JSON.stringify([[1, 2]]), "not json"]) {
        const answered = await answer(inline, body);
        assert.deepEqual(answered, await answer(plain, body));
        assert.ok(answered.status === 200 || answered.status === 400, `${body} answered ${answered.status}`);
      }
      assert.equal((await fetch(`${inline.url}/models/iris`, { method: "DELETE" })).status, 200);
      assert.equal(inline.registry?.runsInline("iris"), false);
    } finally {
      await inline.close();
      await plain.close();
    }
  });

  test("its copy on the HTTP thread is charged to the memory budget: a budget that holds two such models without lanes holds one with them", async () => {
    // Each copy is charged at least the model's 8 MiB of files: 8 MiB a model without its lane, 16 MiB with it.
    const urls = [await irisModel(root, "padded-a", 8 * mib), await irisModel(root, "padded-b", 8 * mib)];
    for (const [inlineTinyModels, held] of [
      [false, ["padded-a", "padded-b"]],
      [true, ["padded-b"]],
    ] as const) {
      const server = await startTestServer({ multiModel: true, modelsRoot: root, workers: 1, inlineTinyModels, modelMemoryBudgetBytes: 20 * mib });
      try {
        for (const [index, url] of urls.entries()) assert.equal((await post(server, "/models", JSON.stringify({ model_name: `padded-${"ab"[index]}`, url }))).status, 200);
        assert.deepEqual(await loadedNames(server), held, `inline lanes ${inlineTinyModels ? "on" : "off"}`);
      } finally {
        await server.close();
      }
    }
  });
});
