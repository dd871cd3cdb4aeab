import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { buildCommand } from "../../src/cli/build.js";
import { pushCommand } from "../../src/cli/push.js";
import { ConfigurationError } from "../../src/errors.js";
import { repoRoot, toolEnv } from "./helpers/project.js";

const cli = join(repoRoot, "src", "cli.ts");
/** tsx by URL: the commands run in a folder of their own, where "tsx" would not resolve. */
const tsx = import.meta.resolve("tsx");
const root = await mkdtemp(join(tmpdir(), "byoc-cli-"));
after(() => rm(root, { recursive: true, force: true }));

async function sagemakerByoc(args: string[], env: Record<string, string> = toolEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // A deadline, so a command that hangs fails the test instead of stalling the run.
  const child = spawn(process.execPath, ["--import", tsx, cli, ...args], { cwd: root, env, timeout: 60_000, killSignal: "SIGKILL" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

test("the CLI lists build and push, and each explains its flags", async () => {
  const list = await sagemakerByoc(["--help"]);
  assert.match(list.stdout, /build\s+write a build context/);
  assert.match(list.stdout, /push\s+push the image to ECR/);
  const build = await sagemakerByoc(["build", "--help"]);
  assert.equal(build.code, 0);
  for (const flag of ["--output", "--handlers", "--model", "--target", "--base-image", "--node-image", "--multi-model", "--tag", "--engine", "--no-build"]) assert.ok(build.stdout.includes(flag), flag);
  const push = await sagemakerByoc(["push", "--help"]);
  assert.equal(push.code, 0);
  for (const flag of ["--image", "--repository", "--tag", "--engine", "--region", "--ecr-endpoint", "--registry", "--tls-verify", "--role-arn", "--model-data", "--instance-type", "--name"]) assert.ok(push.stdout.includes(flag), flag);
});

test("project and flag problems exit with 2 and say what is wrong", async () => {
  const noProject = await sagemakerByoc(["build"]);
  assert.equal(noProject.code, 2);
  assert.match(noProject.stderr, /^sagemaker-byoc: .* has no package\.json: run the command in your project's folder/m);
  const target = await sagemakerByoc(["build", "--target", "tpu"]);
  assert.equal(target.code, 2);
  assert.match(target.stderr, /--target "tpu" must be one of cpu, gpu/);
  const unknownFlag = await sagemakerByoc(["push", "--registy", "x"]);
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, /--registy/);
});

test("a missing container engine exits with 1 and says what to install", async () => {
  // A PATH with node and nothing else: node's own folder may hold buildah too (/usr/bin on Debian).
  const nodeOnlyBin = join(root, "node-only");
  await mkdir(nodeOnlyBin);
  await symlink(process.execPath, join(nodeOnlyBin, "node"));
  const nodeOnly = { ...toolEnv, PATH: nodeOnlyBin };
  const result = await sagemakerByoc(["push", "--image", "app:1", "--repository", "app", "--engine", "buildah"], nodeOnly);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /sagemaker-byoc: No container engine: buildah is not installed/);
});

test("build without a container engine stops before installing dependencies, and writes nothing", async () => {
  const nodeOnlyBin = join(root, "node-only-build");
  await mkdir(nodeOnlyBin);
  await symlink(process.execPath, join(nodeOnlyBin, "node"));
  const project = join(root, "engineless");
  await mkdir(project);
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "engineless", version: "1.0.0", dependencies: { "sagemaker-byoc-node": "*" } }));
  const result = await sagemakerByoc(["build", project], { ...toolEnv, PATH: nodeOnlyBin });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /sagemaker-byoc: No container engine: docker is not installed; buildah is not installed/);
  assert.doesNotMatch(result.stderr, /Installing production dependencies|\$ npm/);
  await assert.rejects(access(join(project, ".sagemaker-byoc")), "no build context was written");
});

test("the commands refuse more than one project folder", async () => {
  await assert.rejects(buildCommand.run(["one", "two"], {}), (error: Error) => error instanceof ConfigurationError && /build takes one project folder, got 2: one two/.test(error.message));
  await assert.rejects(pushCommand.run(["one", "two"], {}), (error: Error) => error instanceof ConfigurationError && /push takes one project folder, got 2/.test(error.message));
  await assert.rejects(pushCommand.run(["--tls-verify=perhaps"], {}), /--tls-verify "perhaps" must be true or false/);
});
