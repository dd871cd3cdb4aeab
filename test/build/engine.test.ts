import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BuildahEngine } from "../../src/build/buildah-engine.js";
import { CommandRunner } from "../../src/build/command-runner.js";
import { detectEngine } from "../../src/build/engine.js";
import { ContainerError, EngineNotFoundError, RegistryLoginError } from "../../src/build/errors.js";
import { collectingRunner, toolEnv } from "./helpers/project.js";

const root = await mkdtemp(join(tmpdir(), "byoc-engine-"));
after(() => rm(root, { recursive: true, force: true }));

/** The docker CLI on this machine's PATH, wherever it lives (Debian's package: /usr/bin; Docker's: /usr/local/bin). */
const dockerCli = await new CommandRunner(toolEnv, () => undefined).which("docker");
/** Where no Docker engine answers, whether or not this machine runs one. */
const noEngine = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };

/** A PATH holding only links to these system commands. */
async function pathWith(name: string, commands: Record<string, string>): Promise<string> {
  const bin = join(root, name);
  await mkdir(bin, { recursive: true });
  for (const [command, target] of Object.entries(commands)) await symlink(target, join(bin, command));
  return bin;
}

/**
 * No Docker engine can run on this machine (the docker CLI is only a client), so this script
 * stands in for docker with a running engine: it answers `docker info`, records every other
 * call, and answers login, push and inspect the way docker does.
 */
async function fakeDocker(): Promise<{ bin: string; calls: () => Promise<string[]> }> {
  const bin = join(root, "fake-docker");
  await mkdir(bin, { recursive: true });
  const log = join(root, "fake-docker.log");
  await writeFile(
    join(bin, "docker"),
    [
      "#!/bin/sh",
      `echo "$*" >> ${log}`,
      'case "$1" in',
      '  info) [ -n "$FAKE_DOCKER_HANGS" ] && exec sleep 30; echo 28.2.2 ;;',
      '  login) read password; [ "$password" = good ] || { echo "Error response from daemon: unauthorized: incorrect username or password" >&2; exit 1; } ;;',
      '  push) case "$2" in plain.example:*) echo "Get \\"https://plain.example:5000/v2/\\": http: server gave HTTP response to HTTPS client" >&2; exit 1 ;; esac; echo "1.2.3: digest: sha256:' + "ab".repeat(32) + ' size: 1234" ;;',
      '  image) case "$5" in missing:*) echo "Error: No such image: $5" >&2; exit 1 ;; bare:*) echo null ;; *) echo \'{"org.opencontainers.image.version":"1.2.3"}\' ;; esac ;;',
      "esac",
      "",
    ].join("\n"),
  );
  await chmod(join(bin, "docker"), 0o755);
  await writeFile(log, "");
  return { bin, calls: async () => (await readFile(log, "utf8")).trim().split("\n") };
}

test("auto: docker without an answering engine is passed over for buildah, and the reason is printed", async () => {
  const { runner, lines } = collectingRunner({ ...toolEnv, ...noEngine });
  const engine = await detectEngine("auto", runner);
  assert.ok(engine instanceof BuildahEngine);
  const reason = dockerCli === undefined ? "not installed" : "installed, but no engine answers (Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock. Is the docker daemon running?)";
  assert.deepEqual(lines, [`engine: buildah (docker is ${reason})`]);
});

test("--engine buildah skips the docker probe", async () => {
  const { runner, lines } = collectingRunner({ ...toolEnv, PATH: `${(await fakeDocker()).bin}:${toolEnv["PATH"]}` });
  assert.equal((await detectEngine("buildah", runner)).name, "buildah", "even with an engine that answers");
  assert.deepEqual(lines, ["engine: buildah (--engine buildah)"]);
});

test(
  "--engine docker without an engine fails saying why",
  { skip: dockerCli === undefined ? "no docker CLI on this machine's PATH: the real client's answer without an engine cannot be checked" : false },
  async () => {
    const dockerOnly = await pathWith("docker-only", { docker: dockerCli ?? "" });
    const { runner } = collectingRunner({ PATH: dockerOnly, ...noEngine });
    await assert.rejects(
      detectEngine("docker", runner),
      (error: Error) =>
        error instanceof EngineNotFoundError &&
        error.code === "ENGINE_NOT_FOUND" &&
        /^--engine docker: docker is installed, but no engine answers \(Cannot connect to the Docker daemon .*\)\. Start Docker, or use --engine buildah$/.test(error.message),
    );
  },
);

test("a docker info that does not answer in time counts as no engine, and the printed reason says so", async () => {
  const docker = await fakeDocker();
  const hanging = { ...toolEnv, PATH: `${docker.bin}:${toolEnv["PATH"]}`, FAKE_DOCKER_HANGS: "1" };
  const { runner, lines } = collectingRunner(hanging);
  const started = performance.now();
  const engine = await detectEngine("auto", runner, 500);
  assert.equal(engine.name, "buildah");
  assert.ok(performance.now() - started < 10_000, "the probe gave up, not the 30 s docker wanted");
  assert.deepEqual(lines, ["engine: buildah (docker is installed, but no engine answers (docker info --format '{{.ServerVersion}}' did not finish within 0.5 s))"]);
  await assert.rejects(detectEngine("docker", collectingRunner(hanging).runner, 500), /^EngineNotFoundError: --engine docker: docker is installed, but no engine answers \(docker info .* did not finish within 0\.5 s\)/);
});

test("no engine at all: the error says what to install, or to write the context only", async () => {
  const empty = await pathWith("empty", {});
  const { runner } = collectingRunner({ PATH: empty });
  await assert.rejects(detectEngine("auto", runner), (error: Error) => {
    assert.ok(error instanceof EngineNotFoundError);
    assert.match(error.message, /No container engine: docker is not installed; buildah is not installed/);
    assert.match(error.message, /apt-get install buildah/);
    assert.match(error.message, /--no-build/);
    return true;
  });
  await assert.rejects(detectEngine("buildah", runner), /No container engine: buildah is not installed/);
});

test("with an answering engine docker is chosen, and builds, logs in, pushes and inspects with docker's own commands", async () => {
  const docker = await fakeDocker();
  const { runner, lines } = collectingRunner({ ...toolEnv, PATH: `${docker.bin}:${toolEnv["PATH"]}` });
  const engine = await detectEngine("auto", runner);
  assert.equal(engine.name, "docker");
  assert.equal(lines[0], "engine: docker (docker info answered)");
  await engine.build({ contextDir: "/ctx", tags: ["app:1.2.3", "app:1.2.3-abc"], buildArgs: { BASE_IMAGE: "node:24-bookworm-slim" } });
  await engine.login("127.0.0.1:5000", { username: "AWS", password: "good" }, false);
  assert.ok(lines.some((line) => line.includes("insecure-registries")), "plain HTTP is the engine's setting, and the user is told");
  assert.equal(await engine.push("app:1.2.3", "127.0.0.1:5000/app:1.2.3", false), `sha256:${"ab".repeat(32)}`);
  assert.deepEqual(await engine.labels("app:1.2.3"), { "org.opencontainers.image.version": "1.2.3" });
  assert.deepEqual(await engine.labels("bare:1"), {});
  await engine.dispose();
  assert.deepEqual((await docker.calls()).slice(1), [
    "build --platform linux/amd64 -f /ctx/Dockerfile --build-arg BASE_IMAGE=node:24-bookworm-slim -t app:1.2.3 -t app:1.2.3-abc /ctx",
    "login --username AWS --password-stdin 127.0.0.1:5000",
    "tag app:1.2.3 127.0.0.1:5000/app:1.2.3",
    "push 127.0.0.1:5000/app:1.2.3",
    "image inspect --format {{json .Config.Labels}} app:1.2.3",
    "image inspect --format {{json .Config.Labels}} bare:1",
  ]);
  assert.ok(!lines.join("\n").includes("good"), "the password never appears in the output");
  await assert.rejects(
    engine.login("127.0.0.1:5000", { username: "AWS", password: "wrong" }, true),
    (error: Error) => error instanceof RegistryLoginError && error.code === "REGISTRY_LOGIN_FAILED" && /Login to 127\.0\.0\.1:5000 failed: Error response from daemon: unauthorized/.test(error.message),
  );
  await assert.rejects(
    engine.push("app:1.2.3", "plain.example:5000/app:1.2.3", false),
    (error: Error) =>
      error instanceof ContainerError &&
      error.code === "REGISTRY_PLAIN_HTTP" &&
      /plain\.example:5000 speaks plain HTTP, not HTTPS: add it to "insecure-registries" in the Docker engine's daemon\.json/.test(error.message),
  );
  await assert.rejects(engine.labels("missing:1"), (error: Error) => error instanceof ContainerError && error.code === "IMAGE_NOT_FOUND" && /No local image missing:1/.test(error.message));
});

test("buildah: a missing image and a refused login are clear errors", async () => {
  const { runner } = collectingRunner();
  const engine = new BuildahEngine(runner);
  await assert.rejects(engine.labels("localhost/no-such-image:0"), (error: Error) => error instanceof ContainerError && /No local image localhost\/no-such-image:0 in buildah's storage/.test(error.message));
  await assert.rejects(
    engine.login("127.0.0.1:1", { username: "AWS", password: "x" }, false),
    (error: Error) => error instanceof RegistryLoginError && /Login to 127\.0\.0\.1:1 failed: .*(connection refused|connect)/i.test(error.message),
  );
  await engine.dispose();
});
