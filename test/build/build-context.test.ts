import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildImage } from "../../src/build/build.js";
import { writeBuildContext, type ContextSettings } from "../../src/build/build-context.js";
import { ProjectError } from "../../src/build/errors.js";
import { loadBuildOptions } from "../../src/build/options.js";
import { readProject, type UserProject } from "../../src/build/project.js";
import { irisModelDir } from "../helpers/server.js";
import { collectingRunner, makeProject, packLocalPackage, packToolkit } from "./helpers/project.js";

const root = await mkdtemp(join(tmpdir(), "byoc-context-"));
after(() => rm(root, { recursive: true, force: true }));

let toolkit = "";
let prodDependency = "";
let devDependency = "";
before(async () => {
  toolkit = await packToolkit(root);
  prodDependency = await packLocalPackage("byoc-prod-helper", root);
  devDependency = await packLocalPackage("byoc-dev-helper", root);
});

const settings = (outputDir: string): ContextSettings => ({
  outputDir,
  target: "cpu",
  baseImage: "node:24-bookworm-slim",
  nodeImage: "node:24-bookworm-slim",
  multiModel: false,
  revision: "4f2c9e1",
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test("the build context: Dockerfile, serve, compiled handlers, production dependencies only, the model extracted", async () => {
  const dir = join(root, "app");
  await makeProject(dir, {
    name: "@acme/iris-endpoint",
    // Relative file: specs, rewritten in the context so they still reach the tarballs.
    dependencies: { "sagemaker-byoc-node": `file:../${toolkit.split("/").at(-1)}`, "byoc-prod-helper": `file:../${prodDependency.split("/").at(-1)}` },
    devDependencies: { "byoc-dev-helper": `file:${devDependency}` },
    scripts: { prepare: "exit 1", postinstall: "exit 1" },
    files: {
      "code/inference.ts": 'import helper from "byoc-prod-helper";\nexport const predictFn = (x: number[]): string => `${helper}:${x.length}`;\n',
      ".npmrc": "fund=false\n",
    },
  });
  await mkdir(join(dir, "model-src"));
  execFileSync("tar", ["-czf", join(dir, "model.tar.gz"), "-C", irisModelDir, "iris.onnx"]);
  const project = await readProject({ projectDir: dir, handlersPath: undefined, modelPath: join(dir, "model.tar.gz") });
  const { runner, lines } = collectingRunner();
  const output = join(dir, ".sagemaker-byoc", "build");
  const context = await writeBuildContext(project, settings(output), runner);

  assert.equal(context.dir, output);
  assert.equal(context.bakedModel, true);
  assert.equal(context.handlersEntry, "inference.js");
  assert.deepEqual(context.buildArgs, { BASE_IMAGE: "node:24-bookworm-slim" });
  assert.ok(context.dependencies.packages > 50, `${context.dependencies.packages} packages`);
  assert.ok(context.dependencies.bytes > 10_000_000);
  assert.deepEqual((await readdir(output)).sort(), [".dockerignore", ".gitignore", "Dockerfile", "healthcheck", "model", "program", "serve"]);
  assert.match(await readFile(join(output, ".gitignore"), "utf8"), /^\.npmrc$/m, "a stray .npmrc never reaches git");
  assert.equal((await stat(join(output, "serve"))).mode & 0o111, 0o111, "the entrypoint is executable");
  assert.equal((await stat(join(output, "healthcheck"))).mode & 0o111, 0o111, "the health check is executable");
  assert.match(await readFile(join(output, "Dockerfile"), "utf8"), /BYOC_HANDLERS="\/opt\/program\/code\/inference\.js"/);
  assert.match(await readFile(join(output, ".dockerignore"), "utf8"), /onnxruntime-node\/bin\/napi-v6\/darwin/);

  const manifest = JSON.parse(await readFile(join(output, "program", "package.json"), "utf8")) as Record<string, Record<string, string>>;
  assert.equal(manifest["scripts"], undefined, "the project's own lifecycle scripts do not run in the context");
  assert.equal(manifest["dependencies"]?.["sagemaker-byoc-node"], "file:../../../../sagemaker-byoc-node-0.1.0.tgz");
  assert.equal(manifest["devDependencies"]?.["byoc-dev-helper"], `file:${devDependency}`, "absolute paths stay as they are");
  const modules = join(output, "program", "node_modules");
  assert.ok(await exists(join(modules, "sagemaker-byoc-node", "dist", "cli.js")));
  assert.ok(await exists(join(modules, "byoc-prod-helper")));
  assert.ok(await exists(join(modules, "express")), "the toolkit's own dependencies");
  assert.ok(await exists(join(modules, "@aws-sdk", "client-s3")), "the async gateway's S3 client serves");
  for (const cliOnly of ["client-ecr", "client-sagemaker-runtime"]) assert.ok(!(await exists(join(modules, "@aws-sdk", cliOnly))), `${cliOnly}: push and invoke only`);
  assert.ok(lines.some((line) => /^ {4}left out, used only by the push and invoke commands: @aws-sdk\/client-ecr, .*@aws-sdk\/client-sagemaker-runtime.* \([\d.]+ MiB\)$/.test(line)), lines.join("\n"));
  assert.ok(!(await exists(join(modules, "byoc-dev-helper"))), "dev dependencies are left out");
  assert.ok(!(await exists(join(output, "program", ".npmrc"))), "the project's .npmrc is used, then removed");

  const compiled = await readFile(join(output, "program", "code", "inference.js"), "utf8");
  assert.match(compiled, /const predictFn = \(x\) =>/, "types stripped");
  assert.match(compiled, /^export \{\s*predictFn\s*\};$/m, "an ES module, as the package's type says");
  assert.deepEqual((await readdir(join(output, "model"))).sort(), ["iris.onnx"], "extracted, without the extractor's marker");
  assert.ok(lines.includes("$ npm ci --omit=dev --no-audit --no-fund --os=linux --cpu=x64 --libc=glibc"));
  assert.ok(lines.some((line) => /^ {4}\d+ packages, [\d.]+ MiB$/.test(line)));
  assert.ok(lines.some((line) => /^ {4}done in [\d.]+ s$/.test(line)));

  // Building again replaces the folder as a whole: no model and no handlers this time, no lockfile.
  await rm(join(dir, "package-lock.json"));
  await rm(join(dir, "code"), { recursive: true });
  const again = await writeBuildContext(await readProject({ projectDir: dir, handlersPath: undefined, modelPath: undefined }), { ...settings(output), target: "gpu" }, runner);
  assert.equal(again.bakedModel, false);
  assert.equal(again.handlersEntry, undefined);
  assert.deepEqual(again.buildArgs, { BASE_IMAGE: "node:24-bookworm-slim", NODE_IMAGE: "node:24-bookworm-slim" });
  assert.deepEqual((await readdir(output)).sort(), [".dockerignore", ".gitignore", "Dockerfile", "check-linked-libraries", "healthcheck", "program", "serve"], "the GPU image's provider check");
  assert.ok(!(await exists(join(output, "program", "code"))));
  assert.ok(lines.includes("$ npm install --omit=dev --no-audit --no-fund --os=linux --cpu=x64 --libc=glibc"), "without a lockfile npm install resolves one");
});

test("build --no-build: a model folder copied as it is, the command to build the context printed; --multi-model warns that it goes unread", async () => {
  const dir = join(root, "folder-model");
  await bareProject(dir, { "sagemaker-byoc-node": `file:${toolkit}` });
  const output = join(dir, "ctx");
  const { runner, lines } = collectingRunner();
  const result = await buildImage(loadBuildOptions({ project: dir, model: irisModelDir, output, "no-build": true, tag: ["iris:dev"], "multi-model": true }, root), runner);
  assert.equal(result.engine, undefined);
  assert.deepEqual(result.tags, ["iris:dev"]);
  assert.equal(result.context.dir, output);
  assert.deepEqual(await readdir(join(output, "model")), ["iris.onnx"]);
  assert.ok(lines.includes(`project: bare@1.0.0 in ${dir}`), "not a git checkout: no commit");
  assert.ok(lines.includes("handlers: none (the default handlers serve the ONNX model)"));
  assert.ok(lines.includes(`model: baked in from ${irisModelDir}`));
  assert.ok(
    lines.some((line) => /^warning: --model with --multi-model: a multi-model endpoint never reads \/opt\/ml\/model; SageMaker loads each model from CreateModel's S3 prefix/.test(line)),
    "the model is baked in as asked, with a warning",
  );
  assert.ok(lines.includes("Not building the image (--no-build). To build it:"));
  assert.ok(lines.includes(`  docker build --platform linux/amd64 --build-arg BASE_IMAGE=node:24-bookworm-slim -t iris:dev ${output}`));
  assert.ok(!lines.some((line) => line.startsWith("engine:")), "no engine is needed");
});

test("the output folder must be new, empty or an earlier build context, and not hold the project", async () => {
  const dir = join(root, "guarded");
  const project = await bareProject(dir, {});
  const { runner } = collectingRunner();
  const precious = join(root, "precious");
  await mkdir(precious, { recursive: true });
  await writeFile(join(precious, "notes.txt"), "keep me");
  await assert.rejects(
    writeBuildContext(project, settings(precious), runner),
    (error: Error) => error instanceof ProjectError && /already exists and was not written by sagemaker-byoc build/.test(error.message),
  );
  assert.equal(await readFile(join(precious, "notes.txt"), "utf8"), "keep me");
  await assert.rejects(writeBuildContext(project, settings(dir), runner), /would hold the project itself/);
  await assert.rejects(writeBuildContext(project, settings(root), runner), /would hold the project itself/);
});

test("a dependency linked from a folder outside the context is refused", async () => {
  const dir = join(root, "linked");
  const library = join(root, "linked-library");
  await mkdir(library, { recursive: true });
  await writeFile(join(library, "package.json"), JSON.stringify({ name: "sagemaker-byoc-node", version: "0.0.1" }));
  const project = await bareProject(dir, { "sagemaker-byoc-node": `file:${library}` });
  await assert.rejects(writeBuildContext(project, settings(join(dir, "ctx")), collectingRunner().runner), (error: Error) => {
    assert.ok(error instanceof ProjectError);
    assert.match(error.message, /links to folders outside the build context/);
    assert.match(error.message, /node_modules\/sagemaker-byoc-node -> .*linked-library/);
    assert.match(error.message, /npm pack the folder/);
    return true;
  });
});

test("the toolkit must end up installed", async () => {
  const dir = join(root, "no-toolkit");
  const project = await bareProject(dir, { "byoc-prod-helper": `file:${prodDependency}` });
  await assert.rejects(writeBuildContext(project, settings(join(dir, "ctx")), collectingRunner().runner), /npm did not install sagemaker-byoc-node/);
});

test("a failing install stops the build with npm's own message", async () => {
  const dir = join(root, "broken-dependency");
  const project = await bareProject(dir, { "sagemaker-byoc-node": `file:${join(root, "missing.tgz")}` });
  await assert.rejects(writeBuildContext(project, settings(join(dir, "ctx")), collectingRunner().runner), (error: Error) => /^npm install --omit=dev .* exited with code \d+:\n[\s\S]*ENOENT[\s\S]*missing\.tgz/.test(error.message));
});

/** A project read by hand (readProject's own checks are tested elsewhere), without a lockfile. */
async function bareProject(dir: string, dependencies: Record<string, string>): Promise<UserProject> {
  await mkdir(dir, { recursive: true });
  const manifest = { name: "bare", version: "1.0.0", dependencies };
  await writeFile(join(dir, "package.json"), JSON.stringify(manifest));
  return { dir, name: "bare", version: "1.0.0", manifest, lockfile: undefined, npmrc: undefined, tsconfig: undefined, handlers: undefined, model: undefined };
}
