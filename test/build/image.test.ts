/**
 * The real proof, on a machine with no Docker engine and no internet: the `build` command makes
 * the bundled iris example's image with buildah from the generated Dockerfile, on a Debian base
 * made offline (scripts/make-base-image.sh, passed as the BASE_IMAGE build argument); the `run`
 * command runs it the way SageMaker runs it (`docker run IMAGE serve`: the ENTRYPOINT with `serve`
 * appended, through buildah here), with its own model and with one mounted at /opt/ml/model; it
 * answers /ping and real predictions, stops cleanly on Ctrl-C and SIGTERM, and leaves no container
 * behind; the `push` command sends it to a real local registry (Debian's docker-registry), whose
 * manifest is read back. The ECR API is the only stand-in (helpers/ecr-stand-in.ts): no AWS account here.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { promisify } from "node:util";
import { buildImage } from "../../src/build/build.js";
import { loadBuildOptions } from "../../src/build/options.js";
import { irisModelDir, setosaRow } from "../helpers/server.js";
import { startEcrStandIn } from "./helpers/ecr-stand-in.js";
import { collectingRunner, makeProject, packToolkit, repoRoot, toolEnv } from "./helpers/project.js";
import { freePort } from "../helpers/free-port.js";
import { imageCommands } from "../journey/readme.js";
import { danglingImages, removeImages, startRegistry } from "./helpers/registry.js";

const execFileAsync = promisify(execFile);
/** A tool run with a deadline: one that hangs fails the test instead of stalling the run. */
const run = (command: string, args: string[], options: { env: Record<string, string> }) => execFileAsync(command, args, { ...options, timeout: 300_000, killSignal: "SIGKILL" });
const baseImage = "localhost/sagemaker-byoc-base:bookworm-node24";
const cli = join(repoRoot, "dist", "cli.js");
const root = await mkdtemp(join(tmpdir(), "byoc-image-"));
const projectName = `iris-e2e-${process.pid}`;
const version = "1.0.0";
const image = `${projectName}:${version}`;
/** The same image under a name of the user's choosing (build --tag). */
const customImage = `${projectName}-custom:dev`;
/** The project built with --multi-model. */
const multiModelImage = `${projectName}-mme:dev`;
const figures: Record<string, string> = {};
let danglingBefore = new Set<string>();
let projectDir = "";
let revision = "";

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** The arguments of every CLI command this test ran, checked against the README's. */
const invocations: string[][] = [];

/** Runs the toolkit's CLI as a user would (`npx sagemaker-byoc ...`), from the project's folder. */
async function sagemakerByoc(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  invocations.push(args);
  const started = performance.now();
  const child = spawn(process.execPath, [cli, ...args], { cwd: projectDir, env: { ...toolEnv, ...env }, timeout: 300_000, killSignal: "SIGKILL" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr, ms: performance.now() - started };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The times the CLI printed for its steps (`==> title` ... `done in N s`). */
function stepTimes(stderr: string): Record<string, string> {
  const times: Record<string, string> = {};
  let title = "";
  for (const line of stderr.split("\n")) {
    if (line.startsWith("==> ")) title = line.slice(4);
    const done = /^ {4}done in (.+)$/.exec(line);
    if (done?.[1] !== undefined) times[title] = done[1];
  }
  return times;
}

/** Every process under `pid`, with its command line. */
async function descendants(pid: number): Promise<{ pid: number; command: string }[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
  }
  const found: { pid: number; command: string }[] = [];
  const visit = async (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      const command = (await readFile(`/proc/${child}/cmdline`, "utf8").catch(() => "")).split("\0").join(" ").trim();
      found.push({ pid: child, command });
      await visit(child);
    }
  };
  await visit(pid);
  return found;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** A `sagemaker-byoc run` in progress: the server's URL once /ping answers 200, and how to stop it. */
interface RunningRun {
  readonly url: string;
  readonly port: number;
  readonly readyMs: number;
  /** Everything the command and the container printed. */
  readonly log: string;
  /** The command's exit code, once stopped. */
  readonly code: number | null;
  /** Sends `signal` to the command, as a terminal's Ctrl-C or `kill` would, and waits for it to end. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `sagemaker-byoc run` from the project's folder on a free port and waits for /ping 200 (60 s at most). */
async function startRun(args: string[]): Promise<RunningRun> {
  invocations.push(args);
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [cli, ...args, "--port", String(port)], { cwd: projectDir, env: toolEnv });
  let log = "";
  child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const url = `http://127.0.0.1:${port}`;
  let ping = 0;
  while (ping !== 200 && child.exitCode === null && performance.now() - started < 60_000) {
    // Each ping has its own deadline too: a server that accepts and never answers must not stall the loop.
    ping = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.status,
      () => 0,
    );
    if (ping !== 200) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const readyMs = performance.now() - started;
  let code: number | null = null;
  const stop = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const deadline = setTimeout(() => {
      // Whatever failed, the command and the container's processes go: left running, they would keep this file from ending.
      void descendants(child.pid ?? -1).then((tree) => {
        for (const entry of tree) killQuietly(entry.pid);
        killQuietly(child.pid ?? -1);
      });
    }, 60_000);
    [code] = await exited;
    clearTimeout(deadline);
  };
  if (ping !== 200) {
    await stop("SIGINT");
    assert.fail(`sagemaker-byoc run did not answer /ping within 60 s:\n${log}`);
  }
  return {
    url,
    port,
    readyMs,
    get log() {
      return log;
    },
    get code() {
      return code;
    },
    stop,
  };
}

/** POSTs a JSON body to /invocations and returns the predictions. */
async function predict(url: string, body: unknown): Promise<{ predictions: number[][] }> {
  const response = await fetch(`${url}/invocations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as { predictions: number[][] };
}

before(async () => {
  danglingBefore = await danglingImages();
  const started = performance.now();
  const made = await run("sh", [join(repoRoot, "scripts", "make-base-image.sh"), baseImage], { env: toolEnv });
  figures["base image"] = made.stderr.includes("exists") ? "cached in buildah's storage" : `${seconds(performance.now() - started)} (${made.stderr.trim().split("\n").join("; ")})`;

  const toolkit = await packToolkit(root);
  projectDir = join(root, "iris");
  // The bundled iris example as a user's project: no handlers file, the model baked in.
  await makeProject(projectDir, { name: projectName, version, dependencies: { "sagemaker-byoc-node": `file:${toolkit}` } });
  const git = (...args: string[]) => run("git", ["-C", projectDir, ...args], { env: { ...toolEnv, GIT_AUTHOR_NAME: "ci", GIT_AUTHOR_EMAIL: "ci@example.com", GIT_COMMITTER_NAME: "ci", GIT_COMMITTER_EMAIL: "ci@example.com" } });
  await git("init", "-q");
  await git("add", "package.json", "package-lock.json");
  await git("commit", "-q", "-m", "iris endpoint");
  revision = (await git("rev-parse", "--short=7", "HEAD")).stdout.trim();
});

after(async () => {
  await removeImages([image, `${image}-${revision}`, customImage, multiModelImage], danglingBefore);
  await rm(root, { recursive: true, force: true });
});

test("build, run as SageMaker does, SIGTERM, push: the iris image end to end", { timeout: 600_000 }, async (t: TestContext) => {
  // build: the real command, buildah (named: a machine with a Docker engine would pick docker), the offline base as BASE_IMAGE.
  const built = await sagemakerByoc(["build", projectDir, "--model", irisModelDir, "--base-image", baseImage, "--engine", "buildah"]);
  assert.equal(built.code, 0, built.stderr);
  assert.deepEqual(built.stdout.trim().split("\n"), [image, `${image}-${revision}`]);
  assert.match(built.stderr, /^engine: buildah \(--engine buildah\)$/m);
  assert.match(built.stderr, /^ {2}sagemaker-byoc push$/m, "push finds <package>:<version> from the project's folder by itself");
  assert.doesNotMatch(built.stderr, /^warning:/m);
  assert.match(built.stderr, new RegExp(`^\\$ buildah build --platform linux/amd64 --format docker --layers -f \\S+/Dockerfile --build-arg BASE_IMAGE=${baseImage} -t ${image} -t ${image}-${revision} `, "m"));
  const steps = stepTimes(built.stderr);
  const step = (prefix: string) => Object.entries(steps).find(([title]) => title.startsWith(prefix))?.[1] ?? "?";
  figures["build command"] = `${seconds(built.ms)} in all; production dependencies ${step("Installing")}, model ${step("Copying")}, image build ${step("Building")}`;

  // The same build in-process, from an unchanged project: buildah reuses every layer, so the
  // image is identical (content-addressed context copies, npm ci from the same lockfile).
  const imageId = async () => (await run("buildah", ["images", "--quiet", "--no-trunc", image], { env: toolEnv })).stdout.trim();
  const firstId = await imageId();
  const { runner, lines } = collectingRunner();
  const rebuilt = await buildImage(loadBuildOptions({ project: projectDir, model: irisModelDir, "base-image": baseImage, engine: "buildah" }, projectDir), runner);
  assert.equal(rebuilt.engine, "buildah");
  assert.deepEqual(rebuilt.tags, [image, `${image}-${revision}`]);
  assert.equal(await imageId(), firstId);
  assert.ok(lines.includes(`project: ${projectName}@${version} in ${projectDir} (git ${revision})`));
  assert.ok(lines.includes(`  sagemaker-byoc run ${projectDir}`), "how to run it is printed: run finds the image and its baked model by itself");

  // Under a name of the user's choosing, push cannot find the image by the package's name: the
  // printed command names it (and is run as printed below).
  const { runner: customRunner, lines: customLines } = collectingRunner();
  await buildImage(loadBuildOptions({ project: projectDir, model: irisModelDir, "base-image": baseImage, engine: "buildah", tag: [customImage] }, projectDir), customRunner);
  assert.equal(await imageId(), firstId);
  const printedPush = customLines.find((line) => line.startsWith("  sagemaker-byoc push"));
  assert.equal(printedPush, `  sagemaker-byoc push ${projectDir} --image ${customImage}`);

  const inspected = JSON.parse((await run("buildah", ["inspect", "--type", "image", image], { env: toolEnv })).stdout) as {
    OCIv1: { config: { Entrypoint: string[]; Labels: Record<string, string>; Env: string[] } };
    Docker: { config: { Healthcheck?: { Test: string[] } } };
  };
  const { Entrypoint: entrypoint, Labels: labels } = inspected.OCIv1.config;
  assert.deepEqual(entrypoint, ["/opt/program/serve"]);
  assert.equal(labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"], "true");
  assert.equal(labels["com.amazonaws.sagemaker.capabilities.multi-models"], undefined);
  assert.equal(labels["org.opencontainers.image.revision"], revision);
  assert.doesNotMatch(labels["org.opencontainers.image.description"] ?? "", /offline container tests/, "not the base image's description");
  assert.deepEqual(inspected.Docker.config.Healthcheck?.Test, ["CMD", "/opt/program/healthcheck"], "the HEALTHCHECK is kept (Docker format)");
  assert.doesNotMatch(built.stderr, /not consumed|HEALTHCHECK is not supported/, "buildah has nothing to warn about");
  const [listed] = JSON.parse((await run("buildah", ["images", "--json", image], { env: toolEnv })).stdout) as { size: string }[];
  figures["image size"] = `${listed?.size ?? "?"} (the offline base: ${(JSON.parse((await run("buildah", ["images", "--json", baseImage], { env: toolEnv })).stdout) as { size: string }[])[0]?.size ?? "?"})`;

  const container = (await run("buildah", ["from", image], { env: toolEnv })).stdout.trim();
  try {
    const runArgs = ["run", "--isolation", "chroot", "--network", "host"];
    // An unknown argument fails loudly, as SageMaker's contract asks.
    const refused = await run("buildah", [...runArgs, container, "--", ...entrypoint, "train"], { env: toolEnv }).then(
      () => assert.fail("train must be refused"),
      (error: { code: number; stderr: string }) => error,
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /unknown command "train"\. This image serves inference/);
    // What the serving image leaves out: the clients of the push and invoke commands.
    const awsSdk = (await run("buildah", [...runArgs, container, "--", "ls", "/opt/program/node_modules/@aws-sdk"], { env: toolEnv })).stdout.split("\n");
    assert.ok(awsSdk.includes("client-s3"), awsSdk.join(" "));
    assert.ok(!awsSdk.includes("client-ecr") && !awsSdk.includes("client-sagemaker-runtime"), awsSdk.join(" "));

    // sagemaker-byoc run, as a user runs it: the baked model, Ctrl-C (SIGINT) to stop.
    const baked = await startRun(["run", projectDir, "--engine", "buildah"]);
    try {
      const [probabilities] = (await predict(baked.url, { instances: [setosaRow] })).predictions;
      assert.ok(probabilities !== undefined && probabilities.length === 3);
      assert.equal(probabilities.indexOf(Math.max(...probabilities)), 0, "setosa");
      assert.ok((probabilities[0] ?? 0) > 0.99);
      figures["container start to /ping 200"] = seconds(baked.readyMs);
      // The HEALTHCHECK's script, run inside the image against the running server.
      await run("buildah", [...runArgs, "--env", `SAGEMAKER_BIND_TO_PORT=${baked.port}`, container, "--", "/opt/program/healthcheck"], { env: toolEnv });
    } finally {
      await baked.stop("SIGINT");
    }
    assert.equal(baked.code, 0, baked.log);
    assert.match(baked.log, /"signal":"SIGTERM"/, "the server got SIGTERM, as SageMaker sends it, and drained");
    assert.match(baked.log, /"msg":"stopped"/);
    assert.match(baked.log, /^model: the image's own, in \/opt\/ml\/model$/m);

    // A model mounted at /opt/ml/model over the baked one (the image template's brightness
    // model: an iris row no longer fits), the environment set, and SIGTERM to stop.
    const brightnessModel = join(repoRoot, "templates", "image", "model");
    const mounted = await startRun(["run", projectDir, "--engine", "buildah", "--model", brightnessModel, "--env", "SAGEMAKER_CONTAINER_LOG_LEVEL=10"]);
    try {
      const answer = await predict(mounted.url, { instances: [[[[0.9]], [[0.9]], [[0.9]]]] });
      const [dark, bright] = answer.predictions[0] ?? [];
      assert.ok((bright ?? 0) > 0.99 && (dark ?? 1) < 0.01, JSON.stringify(answer));
    } finally {
      await mounted.stop("SIGTERM");
    }
    assert.equal(mounted.code, 0, mounted.log);
    assert.match(mounted.log, /"level":"debug"/, "SAGEMAKER_CONTAINER_LOG_LEVEL=10 reached the server");
    assert.match(mounted.log, new RegExp(`^model: ${brightnessModel}, mounted read-only at /opt/ml/model$`, "m"));
    const left = (await run("buildah", ["containers", "--all", "--format", "{{.ContainerName}}"], { env: toolEnv })).stdout;
    assert.doesNotMatch(left, new RegExp(`${projectName}-run-`), "run leaves no container behind");
  } finally {
    await run("buildah", ["rm", container], { env: toolEnv });
  }

  // push: the real command, to a real registry, with the ECR API answered by the stand-in.
  const registry = await startRegistry();
  const ecr = await startEcrStandIn({ registry: registry.host, password: registry.password });
  try {
    const pushed = await sagemakerByoc(
      ["push", projectDir, "--engine", "buildah", "--region", "us-east-1", "--ecr-endpoint", ecr.url, "--tls-verify=false"],
      { AWS_ACCESS_KEY_ID: "AKIATEST", AWS_SECRET_ACCESS_KEY: "test-secret" },
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    figures["push (two tags, empty registry)"] = seconds(pushed.ms);
    const uri = `${registry.host}/${projectName}:${version}-${revision}`;
    assert.match(pushed.stdout, new RegExp(`^Image URI: ${uri}$`, "m"));
    const digest = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(pushed.stdout)?.[1];
    assert.ok(digest !== undefined, pushed.stdout);
    assert.match(pushed.stdout, new RegExp(`--primary-container Image=${uri}$`, "m"), "the model is baked in: no ModelDataUrl");
    assert.match(pushed.stdout, /aws sagemaker create-endpoint-config/);
    assert.match(pushed.stderr, /created: /);
    assert.deepEqual(
      ecr.calls.map((call) => call.operation),
      ["DescribeRepositories", "CreateRepository", "GetAuthorizationToken"],
    );

    const manifestResponse = await registry.get(`/v2/${projectName}/manifests/${version}-${revision}`, "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(manifestResponse.status, 200);
    assert.equal(manifestResponse.headers.get("docker-content-digest"), digest);
    const manifest = (await manifestResponse.json()) as { config: { digest: string }; layers: { size: number }[] };
    assert.ok(manifest.layers.length >= 2, "base layers and the application's");
    const config = (await (await registry.get(`/v2/${projectName}/blobs/${manifest.config.digest}`)).json()) as { config: { Entrypoint: string[]; Labels: Record<string, string> } };
    assert.deepEqual(config.config.Entrypoint, ["/opt/program/serve"]);
    assert.equal(config.config.Labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"], "true");
    assert.equal(config.config.Labels["org.opencontainers.image.version"], version);
    const versionTag = await registry.get(`/v2/${projectName}/manifests/${version}`, "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(versionTag.headers.get("docker-content-digest"), digest);

    // The push command build printed for the image under its custom name, as printed: it finds it.
    ecr.calls.length = 0;
    const printedArgs = printedPush.trim().split(" ").slice(1);
    const pushedCustom = await sagemakerByoc([...printedArgs, "--engine", "buildah", "--region", "us-east-1", "--ecr-endpoint", ecr.url, "--tls-verify=false"], {
      AWS_ACCESS_KEY_ID: "AKIATEST",
      AWS_SECRET_ACCESS_KEY: "test-secret",
    });
    assert.equal(pushedCustom.code, 0, pushedCustom.stderr);
    assert.match(pushedCustom.stdout, new RegExp(`^Image URI: ${uri}$`, "m"), "tagged from the image's labels, as build made it");
    assert.match(pushedCustom.stdout, new RegExp(`^Digest: ${digest}$`, "m"), "the same image");
    assert.deepEqual(
      ecr.calls.map((call) => call.operation),
      ["DescribeRepositories", "GetAuthorizationToken"],
    );
    figures["pushed layers"] = `${manifest.layers.length}, ${(manifest.layers.reduce((sum, layer) => sum + layer.size, 0) / 1024 / 1024).toFixed(1)} MiB compressed`;
  } finally {
    await ecr.close();
    await registry.stop();
  }
  // The README's first screen gives these commands: each ran above, with the flags it names (and
  // those an offline machine needs: the base image, buildah, the ECR stand-in).
  for (const { command, flags } of await imageCommands()) {
    const runs = invocations.filter((args) => args[0] === command);
    assert.ok(runs.length > 0, `README: ${command} ran`);
    for (const flag of flags) assert.ok(runs.some((args) => args.includes(flag)), `README: ${command} ${flag}`);
  }
  for (const [name, value] of Object.entries(figures)) t.diagnostic(`${name}: ${value}`);
});

test("build --multi-model, then run: the image starts as a multi-model endpoint, /ping 200 with no model, a model loads from /opt/ml/models and answers", { timeout: 600_000 }, async () => {
  const built = await sagemakerByoc(["build", projectDir, "--multi-model", "--base-image", baseImage, "--engine", "buildah", "--tag", multiModelImage]);
  assert.equal(built.code, 0, built.stderr);
  const inspected = JSON.parse((await run("buildah", ["inspect", "--type", "image", multiModelImage], { env: toolEnv })).stdout) as { OCIv1: { config: { Labels: Record<string, string> } } };
  assert.equal(inspected.OCIv1.config.Labels["com.amazonaws.sagemaker.capabilities.multi-models"], "true");

  // The models folder, as SageMaker lays models out on an instance: /opt/ml/models/<name>/model.
  const models = join(root, "models");
  await mkdir(join(models, "iris", "model"), { recursive: true });
  await copyFile(join(irisModelDir, "iris.onnx"), join(models, "iris", "model", "iris.onnx"));
  const running = await startRun(["run", projectDir, "--image", multiModelImage, "--models", models, "--engine", "buildah"]);
  try {
    assert.match(running.log, new RegExp(`^multi-model image: models ${models}, mounted read-only at /opt/ml/models$`, "m"));
    assert.deepEqual(await (await fetch(`${running.url}/models`, { signal: AbortSignal.timeout(10_000) })).json(), { models: [] }, "/ping was 200 with no model loaded");
    const loaded = await fetch(`${running.url}/models`, {
      method: "POST",
      body: JSON.stringify({ model_name: "iris", url: "/opt/ml/models/iris/model" }),
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(loaded.status, 200, await loaded.clone().text());
    const invoked = await fetch(`${running.url}/models/iris/invoke`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ instances: [setosaRow] }),
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(invoked.status, 200, await invoked.clone().text());
    assert.equal(((await invoked.json()) as { predictions: number[][] }).predictions[0]?.length, 3);
    const single = await fetch(`${running.url}/invocations`, { method: "POST", body: "{}", signal: AbortSignal.timeout(10_000) });
    assert.equal(single.status, 404, "a multi-model endpoint serves /models/{name}/invoke, not /invocations");
  } finally {
    await running.stop("SIGINT");
  }
  assert.equal(running.code, 0, running.log);
});
