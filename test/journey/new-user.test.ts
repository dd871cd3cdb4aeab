/**
 * A new user's first steps, as the README's first screen gives them, run as written from an empty
 * temporary folder on each supported Node version: `npm init -y`, the packed package installed
 * (from its tarball: the same files npm would publish; its dependencies from the npm registry),
 * `init`, `npm test`, `npm start` and the `curl` prediction. On the way, before `init`, the
 * README's handlers example is served from the CommonJS package `npm init` made, as a user who
 * writes their own handlers would. The image commands (`build`, `run`, `push`) are run by the
 * container test (test/build/image.test.ts).
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { packToolkit, repoRoot, toolEnv } from "../build/helpers/project.js";
import { freePort } from "../helpers/free-port.js";
import { irisModelDir } from "../helpers/server.js";
import { firstScreenCommands, handlersExample, imageCommands } from "./readme.js";

const execFileAsync = promisify(execFile);
const root = await mkdtemp(join(tmpdir(), "byoc-journey-"));
let tarball = "";

before(async () => {
  tarball = await packToolkit(root);
});
after(() => rm(root, { recursive: true, force: true }));

/**
 * A user's shell: the machine's environment less what this test runner sets for its own child
 * processes (its reporting channel, coverage), which would change how `npm test` reports.
 */
const userEnv: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(toolEnv).filter(([name]) => !/^NODE_(TEST_CONTEXT|V8_COVERAGE|OPTIONS)$/.test(name)));

/** The bin folder of Node `major`, from the npm registry (scripts/fetch-node.sh; npm test fetches them first). */
async function nodeBin(major: number): Promise<string> {
  return (await execFileAsync("sh", [join(repoRoot, "scripts", "fetch-node.sh"), String(major)], { env: toolEnv })).stdout.trim();
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one command line with `sh -c`, as a terminal would, with a deadline. */
async function shell(command: string, cwd: string, env: Readonly<Record<string, string>>): Promise<Ran> {
  const child = spawn("sh", ["-c", command], { cwd, env, timeout: 240_000, killSignal: "SIGKILL" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** A server started by a command line, in a process group of its own, until /ping answers 200. */
interface Started {
  readonly url: string;
  readonly output: () => string;
  /**
   * SIGTERM to the command's process group, as a terminal's Ctrl-C reaches npm and the server
   * alike; resolves once every process in it has closed its output.
   */
  stop(): Promise<void>;
}

async function startServing(command: string, cwd: string, env: Readonly<Record<string, string>>): Promise<Started> {
  const port = await freePort();
  const child = spawn("sh", ["-c", command], { cwd, env: { ...env, SAGEMAKER_BIND_TO_PORT: String(port) }, detached: true });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  // "close": every process of the group has closed the pipes, so the server's last lines are in.
  const closed = once(child, "close");
  const stop = async () => {
    if (child.pid !== undefined) signalGroup(child.pid, "SIGTERM");
    const killer = setTimeout(() => child.pid !== undefined && signalGroup(child.pid, "SIGKILL"), 30_000);
    await closed;
    clearTimeout(killer);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 60_000;
  let status = 0;
  while (status !== 200 && child.exitCode === null && performance.now() < deadline) {
    status = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.status,
      () => 0,
    );
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (status !== 200) {
    await stop();
    assert.fail(`${command}: /ping did not answer 200 within 60 s:\n${output}`);
  }
  return { url, output: () => output, stop };
}

/** Sends `signal` to every process of a group this test started; one that has ended is no error. */
function signalGroup(leader: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-leader, signal);
  } catch {
    // the group has ended
  }
}

/**
 * The README's handlers example, saved as code/inference.ts in the package `npm init -y` made
 * ("type": "commonjs"), with the iris model: it compiles against the installed package's types
 * and `serve` answers with it.
 */
async function serveReadmeHandlers(project: string, env: Readonly<Record<string, string>>): Promise<void> {
  const manifest = JSON.parse(await readFile(join(project, "package.json"), "utf8")) as { type?: string };
  assert.equal(manifest.type, "commonjs", "npm init made a CommonJS package");
  await mkdir(join(project, "code"));
  await mkdir(join(project, "model"));
  await writeFile(join(project, "code", "inference.ts"), await handlersExample());
  await copyFile(join(irisModelDir, "iris.onnx"), join(project, "model", "iris.onnx"));

  const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
  const typeRoots = join(repoRoot, "node_modules", "@types");
  const options = "--noEmit --strict --target es2023 --module nodenext --moduleResolution nodenext --skipLibCheck --types node";
  const checked = await shell(`node ${tsc} ${options} --typeRoots ${typeRoots} code/inference.ts`, project, env);
  assert.equal(checked.code, 0, `the README's handlers example compiles:\n${checked.stdout}${checked.stderr}`);

  const server = await startServing("npx sagemaker-byoc serve --model-dir model", project, env);
  try {
    const response = await fetch(`${server.url}/invocations`, { method: "POST", headers: { "content-type": "text/plain" }, body: "5.1,3.5,1.4,0.2" });
    assert.equal(response.status, 200, server.output());
    assert.equal(response.headers.get("x-amzn-sagemaker-custom-attributes"), "model-version=3");
    const { probabilities } = (await response.json()) as { probabilities: number[] };
    assert.ok((probabilities[0] ?? 0) > 0.99, JSON.stringify(probabilities));
    const refused = await fetch(`${server.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: "[]" });
    assert.equal(refused.status, 400, "inputFn's BadRequestError");
    assert.match(server.output(), new RegExp(`"handlersFile":"${join(project, "code", "inference.ts")}"`), "found in the project's code/ with --model-dir model");
  } finally {
    await server.stop();
  }
  assert.match(server.output(), /"msg":"stopped"/, "the server drained and stopped on SIGTERM");
  // init writes its own handlers and model, and overwrites none.
  await rm(join(project, "code"), { recursive: true });
  await rm(join(project, "model"), { recursive: true });
}

for (const major of [22, 24]) {
  test(`Node ${major}: the README's first screen, from mkdir to the curl prediction, with the packed package`, { timeout: 600_000 }, async () => {
    const env = { ...userEnv, PATH: `${await nodeBin(major)}:${userEnv["PATH"] ?? ""}` };
    assert.match((await shell("node --version", root, env)).stdout, new RegExp(`^v${major}\\.`));
    let cwd = join(root, `node${major}`);
    await mkdir(cwd);
    const outputs = new Map<string, string>();
    let server: Started | undefined;
    try {
      for (const line of await firstScreenCommands()) {
        if (/^npx sagemaker-byoc (build|run|push)\b/.test(line)) continue;
        if (line === "npx sagemaker-byoc init") await serveReadmeHandlers(cwd, env);
        if (line === "npm start") {
          server = await startServing(line, cwd, env);
          continue;
        }
        for (const part of line.split(" && ")) {
          if (part.startsWith("cd ")) {
            cwd = resolve(cwd, part.slice(3).trim());
            continue;
          }
          // The package as npm would publish it, from its tarball; the README's port, the server's.
          const command = part.replace("npm install sagemaker-byoc-node", `npm install ${tarball}`).replaceAll("localhost:8080", server === undefined ? "localhost:8080" : server.url.slice("http://".length));
          const ran = await shell(command, cwd, env);
          assert.equal(ran.code, 0, `${part}\n${ran.stdout}\n${ran.stderr}`);
          outputs.set(part, ran.stdout);
        }
      }
    } finally {
      await server?.stop();
    }
    assert.match(server?.output() ?? "", /"msg":"stopped"/, "npm start's server drained and stopped on SIGTERM");
    const testOutput = outputs.get("npm test") ?? "";
    // Node's test runner reports in its spec format or, on Node 22 without a terminal, in TAP.
    assert.match(testOutput, /^(ℹ|#) pass [1-9]\d*$/m, testOutput);
    assert.match(testOutput, /^(ℹ|#) fail 0$/m);
    const curl = [...outputs.entries()].find(([command]) => command.startsWith("curl"))?.[1] ?? "";
    assert.equal((JSON.parse(curl) as { predictions: { label: string }[] }).predictions[0]?.label, "setosa", curl);
  });
}

/** A PNG of one grey level, for the image template. */
async function greyPng(level: number): Promise<Buffer> {
  const { default: sharp } = await import("sharp");
  return sharp({ create: { width: 40, height: 30, channels: 3, background: { r: level, g: level, b: level } } })
    .png()
    .toBuffer();
}

const templateRequests = {
  image: { body: () => greyPng(235), contentType: "image/png", expect: (answer: unknown) => (answer as { label: string }).label === "bright" },
  transform: { body: () => Promise.resolve("Great food, friendly staff"), contentType: "text/plain", expect: (answer: unknown) => (answer as { sentiment: string }).sentiment === "positive" },
} as const;

for (const [template, request] of Object.entries(templateRequests)) {
  test(`Node 24: init --template ${template}, then its own test passes and npm start answers`, { timeout: 600_000 }, async () => {
    const env = { ...userEnv, PATH: `${await nodeBin(24)}:${userEnv["PATH"] ?? ""}` };
    const project = join(root, `template-${template}`);
    await mkdir(project);
    for (const command of ["npm init -y", `ONNXRUNTIME_NODE_INSTALL=skip npm install ${tarball}`, `npx sagemaker-byoc init --template ${template}`, "npm test"]) {
      const ran = await shell(command, project, env);
      assert.equal(ran.code, 0, `${command}\n${ran.stdout}\n${ran.stderr}`);
    }
    const server = await startServing("npm start", project, env);
    try {
      const response = await fetch(`${server.url}/invocations`, { method: "POST", headers: { "content-type": request.contentType }, body: await request.body() });
      const answer: unknown = await response.json();
      assert.equal(response.status, 200, JSON.stringify(answer));
      assert.ok(request.expect(answer), JSON.stringify(answer));
    } finally {
      await server.stop();
    }
  });
}

test("the image commands of the first screen are build, run and push: the container test runs them", async () => {
  assert.deepEqual(
    (await imageCommands()).map((command) => command.command),
    ["build", "run", "push"],
  );
});

test("Node 20 is refused at start, with a message saying which Node to install", async () => {
  const env = { ...userEnv, PATH: `${await nodeBin(20)}:${userEnv["PATH"] ?? ""}` };
  const ran = await shell(`node ${join(repoRoot, "dist", "cli.js")} serve --model-dir model`, root, env);
  assert.equal(ran.code, 1);
  assert.match(ran.stderr, /^sagemaker-byoc needs Node\.js 22 or newer; this is Node\.js 20\.\d+\.\d+\. Install Node\.js 22 or 24 \(LTS\)/);
  assert.equal(ran.stdout, "", "nothing started");
});
