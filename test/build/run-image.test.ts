import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ContainerError, ProjectError } from "../../src/build/errors.js";
import { runImage, stopGraceMs, type RunImageOptions } from "../../src/build/run-image.js";
import { irisModelDir } from "../helpers/server.js";
import { collectingRunner, toolEnv } from "./helpers/project.js";

// No Docker engine can run here, so this script stands in for docker with one: it answers `docker
// info` and `image inspect`, and `docker run` waits like a server until `docker stop` sends it
// SIGTERM, logging what it was given and what it found mounted at the model's place. buildah's
// side runs for real in the container test (image.test.ts).
const root = await mkdtemp(join(tmpdir(), "byoc-run-image-"));
after(async () => {
  // Whatever failed, no fake container outlives the tests.
  for (const file of await pidFiles()) {
    const pid = Number(await readFile(join(state, file), "utf8"));
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // ended already
    }
  }
  await rm(root, { recursive: true, force: true });
});
const bin = join(root, "bin");
const state = join(root, "state");
await mkdir(bin);
await mkdir(state);
await writeFile(
  join(bin, "docker"),
  [
    "#!/bin/sh",
    `state=${state}`,
    'echo "$*" >> "$state/calls"',
    'case "$1" in',
    "  info) echo 28.2.2 ;;",
    '  image) case "$5" in missing:*) echo "Error: No such image: $5" >&2; exit 1 ;; baked:*) echo \'{"sagemaker-byoc-node.model":"baked"}\' ;; multi*) echo \'{"sagemaker-byoc-node.model":"sagemaker","com.amazonaws.sagemaker.capabilities.multi-models":"true"}\' ;; *) echo \'{"sagemaker-byoc-node.model":"sagemaker"}\' ;; esac ;;',
    "  run)",
    '    name=""; model=""',
    '    while [ $# -gt 0 ]; do case "$1" in --name) name="$2"; shift ;; --volume) model="${2%%:*}"; shift ;; esac; shift; done',
    '    [ -n "$model" ] && ls "$model" > "$state/mounted"',
    "    trap 'echo stopped >> \"$state/events\"; exit 0' TERM",
    '    echo $$ > "$state/$name.pid"',
    "    while :; do sleep 0.05; done ;;",
    '  stop) kill -TERM "$(cat "$state/$4.pid")" ;;',
    "  rm) ;;",
    "esac",
    "",
  ].join("\n"),
);
await chmod(join(bin, "docker"), 0o755);
const env = { ...toolEnv, PATH: `${bin}:${toolEnv["PATH"] ?? ""}` };

let count = 0;
/** A project folder whose package.json names the image `<name>:1.0.0`. */
async function project(name: string, withModelFolder: boolean): Promise<string> {
  const dir = join(root, `project-${count++}`);
  await mkdir(dir);
  await writeFile(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0" }));
  if (withModelFolder) {
    await mkdir(join(dir, "model"));
    await writeFile(join(dir, "model", "iris.onnx"), "onnx");
  }
  return dir;
}

async function calls(): Promise<string[]> {
  return (await readFile(join(state, "calls"), "utf8").catch(() => "")).trim().split("\n");
}

/** Runs the image; once docker run waits, sends `signal` as a terminal's Ctrl-C would. */
async function runUntilSignal(options: Partial<RunImageOptions> & { projectDir: string }, signal: "SIGINT" | "SIGTERM" = "SIGINT") {
  for (const file of ["calls", "mounted", ...(await pidFiles())]) await rm(join(state, file), { force: true });
  const signals = new EventEmitter();
  const { runner, lines } = collectingRunner(env);
  const running = runImage({ image: undefined, model: undefined, models: undefined, port: 9123, env: {}, engine: "auto", ...options }, runner, signals);
  const deadline = Date.now() + 20_000;
  while (!(await calls()).some((call) => call.startsWith("run ")) || (await pidFiles()).length === 0) {
    if (Date.now() > deadline) assert.fail(`docker run never started:\n${lines.join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  signals.emit(signal);
  const code = await running;
  return { code, lines, calls: await calls(), mounted: await readFile(join(state, "mounted"), "utf8").catch(() => undefined) };
}

/** The pid files the fake `docker run` wrote: one per container waiting like a server. */
async function pidFiles(): Promise<string[]> {
  return (await readdir(state)).filter((file) => file.endsWith(".pid"));
}

test("docker: the project's image, ./model mounted read-only, the port published, the environment set; Ctrl-C is docker stop, then rm", async () => {
  const dir = await project("@acme/iris-endpoint", true);
  const result = await runUntilSignal({ projectDir: dir, env: { SAGEMAKER_MODEL_SERVER_WORKERS: "2" } });
  assert.equal(result.code, 0);
  const run = result.calls.find((call) => call.startsWith("run ")) ?? "";
  const name = /--name (\S+)/.exec(run)?.[1] ?? "";
  assert.match(name, /^iris-endpoint-run-[0-9a-f]{8}$/);
  assert.equal(run, `run --rm --name ${name} --platform linux/amd64 -p 9123:8080 --env SAGEMAKER_MODEL_SERVER_WORKERS=2 --volume ${join(dir, "model")}:/opt/ml/model:ro acme/iris-endpoint:1.0.0 serve`);
  assert.equal(result.mounted, "iris.onnx\n");
  assert.ok(result.calls.includes(`stop --time ${stopGraceMs / 1000} ${name}`), result.calls.join("\n"));
  assert.equal(result.calls.at(-1), `rm --force ${name}`, "removed once it has exited");
  assert.ok(result.lines.includes(`model: ${join(dir, "model")}, mounted read-only at /opt/ml/model`));
  assert.ok(result.lines.some((line) => line.startsWith("SIGINT: stopping the server (SIGTERM; SIGKILL in 30 s")));
  assert.ok(result.lines.includes("the server exited with code 0"));
});

test("a baked model is used as it is; SIGTERM stops the run too; a server port set with --env is the one published", async () => {
  const dir = await project("baked", false);
  const result = await runUntilSignal({ projectDir: dir, env: { SAGEMAKER_BIND_TO_PORT: "9000" } }, "SIGTERM");
  assert.equal(result.code, 0);
  const run = result.calls.find((call) => call.startsWith("run ")) ?? "";
  assert.doesNotMatch(run, /--volume/);
  assert.match(run, / -p 9123:9000 /);
  assert.ok(result.lines.includes("model: the image's own, in /opt/ml/model"));
});

test("a model.tar.gz is extracted, as SageMaker extracts ModelDataUrl, mounted, and removed afterwards", async () => {
  const dir = await project("archived", false);
  const archive = join(dir, "model.tar.gz");
  execFileSync("tar", ["-czf", archive, "-C", irisModelDir, "iris.onnx"]);
  const result = await runUntilSignal({ projectDir: dir, model: archive });
  assert.equal(result.code, 0);
  assert.match(result.mounted ?? "", /^iris\.onnx$/m);
  const mount = /--volume (\S+):\/opt\/ml\/model:ro/.exec(result.calls.find((call) => call.startsWith("run ")) ?? "")?.[1] ?? "";
  assert.ok(mount.startsWith(tmpdir()), mount);
  await assert.rejects(access(join(mount, "..")), "the extraction is gone");
});

test("a multi-model image runs with SAGEMAKER_MULTI_MODEL=true and ./models read-only at /opt/ml/models, and needs no /opt/ml/model", async () => {
  const dir = await project("multi-endpoint", false);
  await mkdir(join(dir, "models", "iris", "model"), { recursive: true });
  await writeFile(join(dir, "models", "iris", "model", "iris.onnx"), "onnx");
  const result = await runUntilSignal({ projectDir: dir });
  assert.equal(result.code, 0);
  const run = result.calls.find((call) => call.startsWith("run ")) ?? "";
  const name = /--name (\S+)/.exec(run)?.[1] ?? "";
  assert.equal(run, `run --rm --name ${name} --platform linux/amd64 -p 9123:8080 --env SAGEMAKER_MULTI_MODEL=true --volume ${join(dir, "models")}:/opt/ml/models:ro multi-endpoint:1.0.0 serve`);
  assert.equal(result.mounted, "iris\n");
  assert.ok(result.lines.includes(`multi-model image: models ${join(dir, "models")}, mounted read-only at /opt/ml/models`));
});

test("a multi-model image without a models folder starts with /opt/ml/models empty; --env may turn the mode off; --models must exist", async () => {
  const dir = await project("multi-bare", false);
  const result = await runUntilSignal({ projectDir: dir, env: { SAGEMAKER_MULTI_MODEL: "false" } });
  const run = result.calls.find((call) => call.startsWith("run ")) ?? "";
  assert.doesNotMatch(run, /--volume/);
  assert.match(run, / --env SAGEMAKER_MULTI_MODEL=false /);
  assert.ok(result.lines.includes("multi-model image: no models folder (--models, or <project>/models), so /opt/ml/models is empty"));
  await assert.rejects(
    runImage({ projectDir: dir, image: undefined, model: undefined, models: join(dir, "nope"), port: 8080, env: {}, engine: "auto" }, collectingRunner(env).runner, new EventEmitter()),
    (error: Error) => error instanceof ProjectError && /Models folder .*nope \(--models\) does not exist/.test(error.message),
  );
});

test("no model anywhere, a missing model path or image: clear errors, and no container started", async () => {
  await rm(join(state, "calls"), { force: true });
  const dir = await project("no-model", false);
  const options = { projectDir: dir, image: undefined, model: undefined, models: undefined, port: 8080, env: {}, engine: "auto" } as const;
  const signals = new EventEmitter();
  await assert.rejects(
    runImage(options, collectingRunner(env).runner, signals),
    (error: Error) => error instanceof ProjectError && /has no model baked in, and .*\/model does not exist: pass --model <folder or model\.tar\.gz>/.test(error.message),
  );
  await assert.rejects(runImage({ ...options, model: join(dir, "nope") }, collectingRunner(env).runner, signals), /Model .*nope \(--model\) does not exist/);
  await writeFile(join(dir, "weights.bin"), "x");
  await assert.rejects(runImage({ ...options, model: join(dir, "weights.bin") }, collectingRunner(env).runner, signals), /must be a folder or a model\.tar\.gz archive/);
  await assert.rejects(
    runImage({ ...options, image: "missing:1" }, collectingRunner(env).runner, signals),
    (error: Error) => error instanceof ContainerError && error.code === "IMAGE_NOT_FOUND",
  );
  assert.ok(!(await calls()).some((call) => call.startsWith("run ")), "never ran");
  assert.equal(signals.listenerCount("SIGINT"), 0, "no signal listener left behind");
});
