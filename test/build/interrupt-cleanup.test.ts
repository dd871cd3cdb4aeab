import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BuildahEngine } from "../../src/build/buildah-engine.js";
import { InterruptCleanup, type CleanedUpSignal } from "../../src/build/interrupt-cleanup.js";
import { collectingRunner, repoRoot, toolEnv } from "./helpers/project.js";

const root = await mkdtemp(join(tmpdir(), "byoc-interrupt-"));
const cli = join(repoRoot, "src", "cli.ts");
/** tsx by URL: the commands run in a folder of their own, where "tsx" would not resolve. */
const tsx = import.meta.resolve("tsx");
/** buildah keeps this file's images in a storage of its own, removed afterwards. */
const storageConf = join(root, "storage.conf");
await writeFile(storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${join(root, "storage")}"\nrunroot = "${join(root, "run")}"\n`);

after(async () => {
  await new Promise<void>((resolve) => {
    const removal = spawn("buildah", ["rmi", "--all", "--force"], { env: { ...toolEnv, CONTAINERS_STORAGE_CONF: storageConf }, stdio: "ignore", timeout: 60_000 });
    removal.once("close", () => resolve());
    removal.once("error", () => resolve());
  });
  await rm(root, { recursive: true, force: true });
});

function recorder(): { cleanup: InterruptCleanup; source: EventEmitter; exits: { signal: CleanedUpSignal; code: number; failures: readonly unknown[] }[] } {
  const source = new EventEmitter();
  const exits: { signal: CleanedUpSignal; code: number; failures: readonly unknown[] }[] = [];
  return { cleanup: new InterruptCleanup(source, (signal, code, failures) => exits.push({ signal, code, failures })), source, exits };
}

test("listens for SIGINT and SIGTERM only while something is registered", () => {
  const { cleanup, source, exits } = recorder();
  assert.equal(source.listenerCount("SIGINT") + source.listenerCount("SIGTERM"), 0);
  const releaseFirst = cleanup.register(() => undefined);
  const releaseSecond = cleanup.register(() => undefined);
  assert.equal(source.listenerCount("SIGINT"), 1);
  assert.equal(source.listenerCount("SIGTERM"), 1);
  releaseFirst();
  releaseFirst();
  assert.equal(source.listenerCount("SIGINT"), 1, "a second release of the same registration does not drop the other");
  releaseSecond();
  assert.equal(source.listenerCount("SIGINT") + source.listenerCount("SIGTERM"), 0, "nothing left: Node's default handling is back");
  assert.deepEqual(exits, []);
});

test("SIGINT runs what is still registered, last first, then exits with 130", () => {
  const { cleanup, source, exits } = recorder();
  const ran: string[] = [];
  cleanup.register(() => ran.push("remove .npmrc"));
  const released = cleanup.register(() => ran.push("released before the signal"));
  cleanup.register(() => ran.push("stop npm"));
  released();
  source.emit("SIGINT");
  assert.deepEqual(ran, ["stop npm", "remove .npmrc"]);
  assert.deepEqual(exits, [{ signal: "SIGINT", code: 130, failures: [] }]);
  assert.equal(source.listenerCount("SIGINT") + source.listenerCount("SIGTERM"), 0);
});

test("SIGTERM exits with 143; an action that fails does not stop the others, and its error is handed on", () => {
  const { cleanup, source, exits } = recorder();
  const ran: string[] = [];
  const action = () => ran.push("the same function, registered twice");
  cleanup.register(action);
  cleanup.register(action);
  cleanup.register(() => {
    throw new Error("EACCES: permission denied");
  });
  source.emit("SIGTERM");
  assert.equal(ran.length, 2, "each registration runs");
  assert.equal(exits.length, 1);
  assert.equal(exits[0]?.code, 143);
  assert.match(String(exits[0]?.failures[0]), /EACCES/);
});

/** The CLI from the sources, as a user runs it, with a deadline so a hang fails instead of stalling the run. */
function startCli(args: string[], env: Record<string, string>): { child: ChildProcessWithoutNullStreams; stderr: () => string; exited: Promise<[number | null, NodeJS.Signals | null]> } {
  const child = spawn(process.execPath, ["--import", tsx, cli, ...args], { cwd: root, env, timeout: 120_000, killSignal: "SIGKILL" });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  return { child, stderr: () => stderr, exited: once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]> };
}

/** Resolves when `ready` resolves; fails with what the CLI printed if it exits first or the deadline passes. */
async function before<T>(ready: Promise<T>, cli: { stderr: () => string; exited: Promise<unknown> }, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within 60 s:\n${cli.stderr()}`)), 60_000);
  });
  const exitedFirst = cli.exited.then(() => Promise.reject(new Error(`${what}: the CLI exited first:\n${cli.stderr()}`)));
  try {
    return await Promise.race([ready, deadline, exitedFirst]);
  } finally {
    clearTimeout(timer);
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test("Ctrl-C during npm install: the project's .npmrc leaves the build context, npm is stopped, exit 130", async () => {
  const project = join(root, "project");
  await mkdir(join(project, "code"), { recursive: true });
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "interrupted", version: "1.0.0", dependencies: { "sagemaker-byoc-node": "^0.1.0" } }));
  await writeFile(join(project, ".npmrc"), "//registry.example.com/:_authToken=npm-secret-token\n");
  // npm stands in for itself here: a real install cannot be made to stay in progress on demand.
  // This one reports that the .npmrc is in place and its process id, then installs forever.
  const bin = join(root, "npm-bin");
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, "npm"), '#!/bin/sh\n[ -f .npmrc ] && echo "stand-in npm $$: .npmrc in place"\nexec sleep 60\n');
  await chmod(join(bin, "npm"), 0o755);
  const output = join(root, "context");
  const build = startCli(["build", project, "--output", output, "--no-build"], { ...toolEnv, PATH: `${bin}:${toolEnv["PATH"] ?? ""}` });
  let npmPid = 0;
  try {
    const started = new Promise<void>((resolve) =>
      build.child.stderr.on("data", () => {
        const pid = /stand-in npm (\d+): \.npmrc in place/.exec(build.stderr())?.[1];
        if (pid !== undefined) {
          npmPid = Number(pid);
          resolve();
        }
      }),
    );
    await before(started, build, "npm starting");
    const npmrc = join(output, "program", ".npmrc");
    assert.equal(await readFile(npmrc, "utf8"), "//registry.example.com/:_authToken=npm-secret-token\n", "the token is there while npm runs");

    build.child.kill("SIGINT");
    const [code, signal] = await build.exited;
    assert.deepEqual([code, signal], [130, null], build.stderr());
    assert.match(build.stderr(), /sagemaker-byoc: stopped by SIGINT; temporary files removed\n$/);
    assert.equal(await exists(npmrc), false, "the token is gone");
    assert.match(await readFile(join(output, ".gitignore"), "utf8"), /^\.npmrc$/m, "and git would leave it out anyway");
    assert.equal(await processEnded(npmPid), true, "npm was stopped with the build");
  } finally {
    build.child.kill("SIGKILL");
    if (npmPid !== 0) killQuietly(npmPid);
  }
});

test("SIGTERM during a registry login: buildah's temporary auth file is removed, the login stopped, exit 143", async () => {
  const env = { ...toolEnv, CONTAINERS_STORAGE_CONF: storageConf };
  const image = `localhost/byoc-interrupt:${process.pid}`;
  const context = join(root, "image");
  await mkdir(context, { recursive: true });
  await writeFile(join(context, "hello.txt"), "hello\n");
  await writeFile(join(context, "Dockerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
  await new BuildahEngine(collectingRunner(env).runner).build({ contextDir: context, tags: [image], buildArgs: {} });

  // A registry that accepts connections and never answers, so the login stays in progress. It
  // reads what arrives, so a connection's end is seen when buildah goes.
  const sockets: Socket[] = [];
  const registry = createServer((socket) => {
    sockets.push(socket);
    socket.resume();
  });
  registry.listen(0, "127.0.0.1");
  await once(registry, "listening");
  const { port } = registry.address() as { port: number };
  const connected = once(registry, "connection");
  const temporary = join(root, "cli-tmp");
  await mkdir(temporary);
  const authDirs = async () => (await readdir(temporary)).filter((name) => name.startsWith("sagemaker-byoc-auth-"));
  const push = startCli(["push", "--image", image, "--repository", "hang/app", "--tag", "t1", "--registry", `127.0.0.1:${port}`, "--engine", "buildah", "--tls-verify=false"], {
    ...env,
    TMPDIR: temporary,
    BYOC_REGISTRY_USERNAME: "ci",
    BYOC_REGISTRY_PASSWORD: "registry-secret",
  });
  try {
    await before(connected, push, "buildah login connecting");
    assert.equal((await authDirs()).length, 1, "the login's temporary folder exists while buildah logs in");
    const loginClosed = Promise.all(sockets.filter((socket) => !socket.destroyed).map((socket) => once(socket, "close")));

    push.child.kill("SIGTERM");
    const [code, signal] = await push.exited;
    assert.deepEqual([code, signal], [143, null], push.stderr());
    assert.match(push.stderr(), /\$ buildah login --authfile .* 127\.0\.0\.1:\d+\n/);
    assert.match(push.stderr(), /sagemaker-byoc: stopped by SIGTERM; temporary files removed\n$/);
    assert.deepEqual(await authDirs(), [], "no login left on disk");
    await before(loginClosed, { stderr: push.stderr, exited: new Promise(() => undefined) }, "buildah login stopping");
  } finally {
    push.child.kill("SIGKILL");
    for (const socket of sockets) socket.destroy();
    registry.close();
  }
});

/** True once `pid` is gone or a zombie (ended, not yet reaped), within 10 s; false after. */
async function processEnded(pid: number): Promise<boolean> {
  // No event tells another process's end: look a bounded number of times.
  for (let attempt = 0; attempt < 200; attempt++) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (stat === undefined || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
