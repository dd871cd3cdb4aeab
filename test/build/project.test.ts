import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ProjectError } from "../../src/build/errors.js";
import { readPackageIdentity, readProject } from "../../src/build/project.js";
import { ConfigurationError } from "../../src/errors.js";

const root = await mkdtemp(join(tmpdir(), "byoc-project-"));
after(() => rm(root, { recursive: true, force: true }));

let count = 0;
/** A fresh project folder with these files. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = join(root, `p${count++}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

const manifest = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name: "@acme/iris", version: "2.0.0", dependencies: { "sagemaker-byoc-node": "^0.1.0" }, ...extra });

function rejectsWith(message: RegExp) {
  return (error: Error) => error instanceof ProjectError && error instanceof ConfigurationError && message.test(error.message);
}

test("a project with handlers in code/, a lockfile, .npmrc and tsconfig", async () => {
  const dir = await project({
    "package.json": manifest(),
    "package-lock.json": "{}",
    ".npmrc": "registry=https://registry.npmjs.org/\n",
    "tsconfig.json": "{}",
    "code/inference.ts": "export {};",
    "code/inference.js": "export {};",
  });
  const found = await readProject({ projectDir: dir, handlersPath: undefined, modelPath: undefined });
  assert.equal(found.name, "@acme/iris");
  assert.equal(found.version, "2.0.0");
  assert.equal(found.lockfile, join(dir, "package-lock.json"));
  assert.equal(found.npmrc, join(dir, ".npmrc"));
  assert.equal(found.tsconfig, join(dir, "tsconfig.json"));
  assert.deepEqual(found.handlers, { file: join(dir, "code", "inference.ts"), codeDir: join(dir, "code") }, "inference.ts before inference.js, as the server looks");
  assert.equal(found.model, undefined);
});

test("no handlers file: the defaults serve the ONNX model; name and version fall back to the folder and 0.0.0", async () => {
  const dir = await project({ "package.json": JSON.stringify({ dependencies: { "sagemaker-byoc-node": "*" } }), "npm-shrinkwrap.json": "{}" });
  const found = await readProject({ projectDir: dir, handlersPath: undefined, modelPath: undefined });
  assert.equal(found.handlers, undefined);
  assert.equal(found.name, `p${count - 1}`);
  assert.equal(found.version, "0.0.0");
  assert.equal(found.lockfile, join(dir, "npm-shrinkwrap.json"));
  assert.deepEqual(await readPackageIdentity(dir), { name: `p${count - 1}`, version: "0.0.0" });
});

test("an explicit handlers file anywhere but the project's root; its folder is the code folder", async () => {
  const dir = await project({ "package.json": manifest(), "src/serve.mjs": "export {};", "root.ts": "export {};" });
  const found = await readProject({ projectDir: dir, handlersPath: join(dir, "src", "serve.mjs"), modelPath: undefined });
  assert.deepEqual(found.handlers, { file: join(dir, "src", "serve.mjs"), codeDir: join(dir, "src") });
  await assert.rejects(readProject({ projectDir: dir, handlersPath: join(dir, "root.ts"), modelPath: undefined }), rejectsWith(/sits at the project's root; move it into a folder of its own/));
  await assert.rejects(readProject({ projectDir: dir, handlersPath: join(dir, "missing.ts"), modelPath: undefined }), rejectsWith(/Handlers file .*missing\.ts \(--handlers\) does not exist/));
});

test("a model folder or archive to bake in; anything else is refused", async () => {
  const dir = await project({ "package.json": manifest(), "model/iris.onnx": "onnx", "model.tar.gz": "gz", "model.zip": "zip", "empty/.keep": "" });
  await rm(join(dir, "empty", ".keep"));
  const select = (modelPath: string) => readProject({ projectDir: dir, handlersPath: undefined, modelPath });
  assert.deepEqual((await select(join(dir, "model"))).model, { kind: "directory", path: join(dir, "model") });
  assert.deepEqual((await select(join(dir, "model.tar.gz"))).model, { kind: "archive", path: join(dir, "model.tar.gz") });
  await assert.rejects(select(join(dir, "model.zip")), rejectsWith(/must be a folder or a model\.tar\.gz archive/));
  await assert.rejects(select(join(dir, "nope")), rejectsWith(/Model .*nope \(--model\) does not exist/));
  await assert.rejects(select(join(dir, "empty")), rejectsWith(/Model folder .*empty \(--model\) is empty/));
  await assert.rejects(select(dir), rejectsWith(/holds the project itself/));
  await assert.rejects(select(root), rejectsWith(/holds the project itself/));
});

test("no package.json, invalid JSON, or no toolkit in dependencies: a clear error each", async () => {
  const select = (projectDir: string) => readProject({ projectDir, handlersPath: undefined, modelPath: undefined });
  await assert.rejects(select(await project({ "README.md": "" })), rejectsWith(/has no package\.json: run the command in your project's folder/));
  await assert.rejects(select(await project({ "package.json": "{ nope" })), rejectsWith(/package\.json is not valid JSON/));
  await assert.rejects(select(await project({ "package.json": "[1]" })), rejectsWith(/must hold a JSON object/));
  await assert.rejects(select(await project({ "package.json": JSON.stringify({ name: "x" }) })), rejectsWith(/must list sagemaker-byoc-node in "dependencies": the image runs its server/));
  await assert.rejects(
    select(await project({ "package.json": JSON.stringify({ devDependencies: { "sagemaker-byoc-node": "*" } }) })),
    rejectsWith(/\(it is in devDependencies\)/),
  );
  const unreadable = await project({ "package.json/inner": "" });
  await assert.rejects(select(unreadable), rejectsWith(/Cannot read .*package\.json/));
});

test("handlers are found where serve finds them: the project's code/, else the model folder's code/", async () => {
  const inModel = await project({ "package.json": manifest(), "model/iris.onnx": "onnx", "model/code/inference.js": "export {};" });
  const fromModel = await readProject({ projectDir: inModel, handlersPath: undefined, modelPath: join(inModel, "model") });
  assert.deepEqual(fromModel.handlers, { file: join(inModel, "model", "code", "inference.js"), codeDir: join(inModel, "model", "code") });
  assert.equal((await readProject({ projectDir: inModel, handlersPath: undefined, modelPath: undefined })).handlers, undefined, "no model folder given: none");

  const both = await project({ "package.json": manifest(), "code/inference.ts": "export {};", "model/iris.onnx": "onnx", "model/code/inference.js": "export {};" });
  const fromProject = await readProject({ projectDir: both, handlersPath: undefined, modelPath: join(both, "model") });
  assert.deepEqual(fromProject.handlers, { file: join(both, "code", "inference.ts"), codeDir: join(both, "code") });
});
