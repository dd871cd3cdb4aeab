import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ProjectError } from "../../src/build/errors.js";
import { scaffoldProject } from "../../src/scaffold/scaffold.js";
import { encodeBrightnessModel } from "../../scripts/make-template-models.js";
import { irisModelDir } from "../helpers/server.js";

const root = await mkdtemp(join(tmpdir(), "byoc-scaffold-"));
after(() => rm(root, { recursive: true, force: true }));
const toolkit = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
/** What `npm init -y` writes (npm 11). */
const npmInit = { name: "app", version: "1.0.0", main: "index.js", scripts: { test: 'echo "Error: no test specified" && exit 1' }, license: "ISC", type: "commonjs" };

interface Manifest {
  readonly type?: string;
  readonly license?: string;
  readonly scripts: Record<string, string>;
  readonly dependencies?: Record<string, string>;
}

async function readJson(path: string): Promise<Manifest> {
  return JSON.parse(await readFile(path, "utf8")) as Manifest;
}

test("a new folder gets the whole project, package.json included, named after the folder", async () => {
  const dir = join(root, "My Endpoint");
  const result = await scaffoldProject({ dir, template: "onnx-tabular" });
  assert.deepEqual([...result.created].sort(), [".gitignore", ".npmrc", "README.md", "code/inference.ts", "model/iris.onnx", "package.json", "test/inference.test.ts", "tsconfig.json"]);
  assert.deepEqual(await readJson(join(dir, "package.json")), {
    name: "my-endpoint",
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: { start: "sagemaker-byoc serve --model-dir model", test: "node --import tsx --test test/*.test.ts" },
    dependencies: { "sagemaker-byoc-node": `^${toolkit.version}` },
    devDependencies: { tsx: toolkit.dependencies["tsx"], "@types/node": toolkit.devDependencies["@types/node"] },
  });
  assert.match(await readFile(join(dir, ".gitignore"), "utf8"), /^\.sagemaker-byoc\/$/m);
  assert.match(await readFile(join(dir, ".npmrc"), "utf8"), /^onnxruntime-node-install=skip$/m);
});

test("after npm init: package.json is completed, not replaced; the placeholder test script goes", async () => {
  const dir = join(root, "after-npm-init");
  await mkdir(dir);
  await writeFile(join(dir, "package.json"), JSON.stringify({ ...npmInit, dependencies: { "sagemaker-byoc-node": "file:../toolkit.tgz" } }));
  await writeFile(join(dir, ".gitignore"), "dist/\nnode_modules/");
  const result = await scaffoldProject({ dir, template: "image" });
  assert.ok(result.merged.includes("package.json") && result.merged.includes(".gitignore"));
  const manifest = await readJson(join(dir, "package.json"));
  assert.equal(manifest.type, "module", "no index.js: nothing is CommonJS yet");
  assert.equal(manifest.license, "ISC");
  assert.deepEqual(manifest.dependencies, { "sagemaker-byoc-node": "file:../toolkit.tgz", sharp: toolkit.devDependencies["sharp"] }, "the installed toolkit is kept");
  assert.equal(manifest.scripts["test"], "node --import tsx --test test/*.test.ts");
  assert.equal(await readFile(join(dir, ".gitignore"), "utf8"), "dist/\nnode_modules/\n.sagemaker-byoc/\n", "only the missing line is added");
  assert.ok(result.manifestChanges.includes('"type": "module"'));
});

test("a package with CommonJS code of its own keeps its type, and its own test script", async () => {
  const dir = join(root, "commonjs");
  await mkdir(dir);
  await writeFile(join(dir, "package.json"), JSON.stringify({ ...npmInit, scripts: { test: "jest" } }));
  await writeFile(join(dir, "index.js"), "module.exports = {};\n");
  await writeFile(join(dir, "tsconfig.json"), "{}\n");
  const result = await scaffoldProject({ dir, template: "transform" });
  const manifest = await readJson(join(dir, "package.json"));
  assert.equal(manifest.type, "commonjs");
  assert.equal(manifest.scripts["test"], "jest");
  assert.equal(manifest.scripts["test:handlers"], "node --import tsx --test test/*.test.ts");
  assert.deepEqual(result.kept, ["tsconfig.json"]);
  assert.equal(await readFile(join(dir, "tsconfig.json"), "utf8"), "{}\n");
  assert.ok(result.created.includes("model/lexicon.json"));
});

test("existing handlers, model or test files are never overwritten: nothing is written at all", async () => {
  const dir = join(root, "taken");
  await mkdir(join(dir, "code"), { recursive: true });
  await writeFile(join(dir, "code", "inference.ts"), "// mine\n");
  await assert.rejects(
    scaffoldProject({ dir, template: "onnx-tabular" }),
    (error: Error) => error instanceof ProjectError && /already has code\/inference\.ts; init writes these files and overwrites none/.test(error.message),
  );
  assert.equal(await readFile(join(dir, "code", "inference.ts"), "utf8"), "// mine\n");
  await assert.rejects(readFile(join(dir, "package.json")), "no package.json written");
});

test("the templates' sample models are the repository's: the iris example and the brightness model its script writes", async () => {
  assert.deepEqual(await readFile(new URL("../../templates/onnx-tabular/model/iris.onnx", import.meta.url)), await readFile(join(irisModelDir, "iris.onnx")));
  assert.deepEqual(await readFile(new URL("../../templates/image/model/brightness.onnx", import.meta.url)), Buffer.from(encodeBrightnessModel()));
});
