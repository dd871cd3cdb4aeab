import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConfigurationError } from "../../src/errors.js";
import { findHandlersFile, importHandlers } from "../../src/handlers/handlers-file.js";

const root = await mkdtemp(join(tmpdir(), "byoc-handlers-file-"));
after(() => rm(root, { recursive: true, force: true }));

let count = 0;
/** A fresh folder holding these (empty) files. */
async function folder(files: readonly string[]): Promise<string> {
  const dir = join(root, `case-${count++}`);
  await mkdir(dir, { recursive: true });
  for (const file of files) {
    await mkdir(join(dir, file, ".."), { recursive: true });
    await writeFile(join(dir, file), "export {};\n");
  }
  return dir;
}

test("the project's code/ folder is searched before the model directory's, as build does", async () => {
  const dir = await folder(["project/code/inference.ts", "model/code/inference.js"]);
  const found = await findHandlersFile({ handlersPath: undefined, sagemakerProgram: undefined, modelDirs: [join(dir, "model")], projectDir: join(dir, "project") });
  assert.equal(found, join(dir, "project", "code", "inference.ts"));
});

test("without handlers in the project, the model directory's code/ folder is searched", async () => {
  const dir = await folder(["project/README.md", "model/code/inference.mjs"]);
  const found = await findHandlersFile({ handlersPath: undefined, sagemakerProgram: undefined, modelDirs: [join(dir, "model")], projectDir: join(dir, "project") });
  assert.equal(found, join(dir, "model", "code", "inference.mjs"));
});

test("the project is the working directory unless given", async () => {
  const dir = await folder(["code/inference.cjs"]);
  const previous = process.cwd();
  process.chdir(dir);
  try {
    assert.equal(await findHandlersFile({ handlersPath: undefined, sagemakerProgram: undefined, modelDirs: [join(dir, "elsewhere")] }), join(dir, "code", "inference.cjs"));
  } finally {
    process.chdir(previous);
  }
});

test("no handlers file anywhere: undefined, so the defaults serve the ONNX model", async () => {
  const dir = await folder(["project/code/helpers.ts", "model/iris.onnx"]);
  assert.equal(await findHandlersFile({ handlersPath: undefined, sagemakerProgram: undefined, modelDirs: [join(dir, "model")], projectDir: join(dir, "project") }), undefined);
});

test("SAGEMAKER_PROGRAM names a file in either code/ folder; a name found in neither is an error listing both", async () => {
  const dir = await folder(["project/code/inference.ts", "model/code/serve.ts"]);
  const search = { handlersPath: undefined, modelDirs: [join(dir, "model")], projectDir: join(dir, "project") };
  assert.equal(await findHandlersFile({ ...search, sagemakerProgram: "serve.ts" }), join(dir, "model", "code", "serve.ts"));
  await assert.rejects(
    findHandlersFile({ ...search, sagemakerProgram: "missing.ts" }),
    new ConfigurationError(`SAGEMAKER_PROGRAM=missing.ts names no file; looked at ${join(dir, "project", "code", "missing.ts")}, ${join(dir, "model", "code", "missing.ts")}`),
  );
});

test("an explicit handlers file wins, and a missing one names --handlers", async () => {
  const dir = await folder(["project/code/inference.ts", "src/mine.ts"]);
  const search = { sagemakerProgram: "inference.ts", modelDirs: [], projectDir: join(dir, "project") };
  assert.equal(await findHandlersFile({ ...search, handlersPath: join(dir, "src", "mine.ts") }), join(dir, "src", "mine.ts"));
  await assert.rejects(findHandlersFile({ ...search, handlersPath: join(dir, "nope.ts") }), /Handlers file .*nope\.ts \(--handlers\) does not exist/);
});

test("TypeScript handlers load whatever module type their package has: CommonJS, ES module, .cts and .mts", async () => {
  const handlers = 'export function transformFn(): string { return "ok"; }\n';
  const cases: [string, Record<string, string>][] = [
    ["commonjs/code/inference.ts", { "commonjs/package.json": '{ "type": "commonjs" }' }],
    ["untyped/code/inference.ts", { "untyped/package.json": "{}" }],
    ["module/code/inference.ts", { "module/package.json": '{ "type": "module" }' }],
    ["explicit/code/inference.cts", {}],
    ["explicit/code/inference.mts", {}],
  ];
  for (const [file, extra] of cases) {
    const dir = await folder([]);
    for (const [path, content] of Object.entries({ ...extra, [file]: handlers })) {
      await mkdir(join(dir, path, ".."), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    const loaded = await importHandlers(join(dir, file));
    assert.equal(typeof loaded.transformFn, "function", file);
  }
});
