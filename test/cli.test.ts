import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { irisModelDir } from "./helpers/server.js";
import { freePort } from "./helpers/free-port.js";

/** A setosa-like row whose digits are unmistakable in a log. */
const payloadMarkerRow = [5.0987654, 3.4987654, 1.4012345, 0.2012345];

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const builtCli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const entrypoint = fileURLToPath(new URL("../container/serve", import.meta.url));
const behaviours = fileURLToPath(new URL("./fixtures/handlers/behaviours.ts", import.meta.url));

interface Started {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: Record<string, unknown>[];
  readonly exit: Promise<[number | null, NodeJS.Signals | null]>;
}

async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { env: { PATH: process.env["PATH"] ?? "", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** How to start the server: from source through tsx (default), or as the container does. */
type Launcher = (args: string[]) => [command: string, args: string[]];
const fromSource: Launcher = (args) => [process.execPath, ["--import", "tsx", cli, ...args]];
const throughEntrypoint: Launcher = (args) => [entrypoint, args];

async function serve(env: Record<string, string>, args: string[] = [], launch: Launcher = fromSource): Promise<Started> {
  const port = await freePort();
  const [command, commandArgs] = launch(["serve", "--model-dir", irisModelDir, "--workers", "1", ...args]);
  const child = spawn(command, commandArgs, {
    env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_BIND_TO_PORT: String(port), BYOC_CLI: builtCli, ...env },
  });
  const lines: Record<string, unknown>[] = [];
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split("\n");
    partial = complete.pop() ?? "";
    for (const line of complete) if (line.trim() !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exit = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 200; attempt++) {
    const status = await fetch(`${url}/ping`).then((response) => response.status, () => 0);
    if (status === 200) return { child, url, lines, exit };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error("server did not become ready");
}

test("an unknown command fails loudly with exit code 2", async () => {
  const { code, stderr } = await runCli(["train"]);
  assert.equal(code, 2);
  assert.match(stderr, /unknown command "train"/);
  assert.match(stderr, /serve/);
});

test("an invalid setting fails at start-up naming the variable", async () => {
  const { code, stderr } = await runCli(["serve"], { SAGEMAKER_MODEL_SERVER_WORKERS: "many" });
  assert.equal(code, 2);
  assert.match(stderr, /SAGEMAKER_MODEL_SERVER_WORKERS="many" must be a whole number/);
});

test("serve listens on SAGEMAKER_BIND_TO_PORT, logs one JSON line per request, never the payload", async () => {
  const server = await serve({ SAGEMAKER_CONTAINER_LOG_LEVEL: "20" });
  try {
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      // Digits no log field can hold by chance (a latency of 5.1 ms once matched "5.1").
      body: JSON.stringify({ instances: [payloadMarkerRow] }),
      headers: { "content-type": "application/json", "x-amzn-sagemaker-inference-id": "log-me" },
    });
    assert.equal(response.status, 200);
    await fetch(`${server.url}/ping`);
    // Log lines are written in batches at least every 100 ms (src/logger.ts): wait for ours.
    for (let waited = 0; waited < 3_000 && !server.lines.some((line) => line["msg"] === "invocation"); waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const requestLines = server.lines.filter((line) => line["msg"] === "invocation");
    assert.equal(requestLines.length, 1);
    const line = requestLines[0] as Record<string, unknown>;
    assert.equal(line["inferenceId"], "log-me");
    assert.equal(line["status"], 200);
    assert.equal(typeof line["ms"], "number");
    assert.ok((line["requestBytes"] as number) > 0 && (line["responseBytes"] as number) > 0);
    assert.ok(!server.lines.some((entry) => entry["msg"] === "ping"), "ping is not logged at info");
    assert.ok(!JSON.stringify(server.lines).includes("5.0987654"), "payloads are never logged");
    assert.ok(server.lines.some((entry) => typeof entry["msg"] === "string" && /provider/i.test(JSON.stringify(entry))), "the provider in use is logged");
  } finally {
    server.child.kill("SIGKILL");
  }
});

test("SIGTERM lets the in-flight request finish, then exits 0", async () => {
  const server = await serve({}, ["--handlers", behaviours]);
  const inFlight = fetch(`${server.url}/invocations`, {
    method: "POST",
    body: "x",
    headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": "sleep=800" },
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  server.child.kill("SIGTERM");
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { slept: 800 });
  const [code] = await server.exit;
  assert.equal(code, 0);
  await assert.rejects(fetch(`${server.url}/ping`));
});

for (const args of [["train"], ["build"], []]) {
  test(`the container entrypoint refuses ${JSON.stringify(args)}: the image only serves`, async () => {
    const child = spawn(entrypoint, args, { env: { PATH: process.env["PATH"] ?? "", BYOC_CLI: builtCli } });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 2);
    assert.match(stderr, new RegExp(`unknown command "${args[0] ?? ""}"`));
  });
}

test("the CLI lists its commands, and each command has --help", async () => {
  const list = await runCli(["--help"]);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /serve\s+serve the handlers/);
  const serveHelp = await runCli(["serve", "--help"]);
  assert.equal(serveHelp.code, 0);
  assert.match(serveHelp.stdout, /--model-dir/);
  const none = await runCli([]);
  assert.equal(none.code, 2);
});

test("serve refuses a stray positional argument", async () => {
  const { code, stderr } = await runCli(["serve", "extra"]);
  assert.equal(code, 2);
  assert.match(stderr, /extra/);
});

test("through the container entrypoint, the built server compiles a TypeScript handlers file and SIGTERM reaches it", async () => {
  const server = await serve({}, ["--handlers", behaviours], throughEntrypoint);
  const response = await fetch(`${server.url}/invocations`, { method: "POST", body: "hi", headers: { "content-type": "text/plain" } });
  assert.equal(response.status, 200);
  assert.equal(((await response.json()) as { echo: string }).echo, "hi");
  server.child.kill("SIGTERM");
  const [code, signal] = await server.exit;
  assert.equal(signal, null, "node handled SIGTERM itself: the shell exec'd into it");
  assert.equal(code, 0);
});

test("the CLI lists init and run; init offers its templates, run its flags", async () => {
  const list = await runCli(["--help"]);
  assert.match(list.stdout, /^ {2}init\s+make a project/m);
  assert.match(list.stdout, /^ {2}run\s+run the built image as SageMaker does/m);
  const init = await runCli(["init", "--help"]);
  assert.equal(init.code, 0);
  for (const template of ["onnx-tabular", "image", "transform"]) assert.match(init.stdout, new RegExp(`^ +${template} `, "m"), template);
  const run = await runCli(["run", "--help"]);
  assert.equal(run.code, 0);
  for (const flag of ["--image", "--model", "--port", "--env", "--engine"]) assert.ok(run.stdout.includes(flag), flag);
});

test("init and run refuse bad flags with exit code 2, naming what is wrong", async () => {
  const cases: [string[], RegExp][] = [
    [["init", "--template", "tabular"], /--template "tabular" must be one of onnx-tabular, image, transform/],
    [["init", "one", "two"], /init takes one folder, got 2/],
    [["run", "--env", "not a pair"], /--env "not a pair" must be NAME=value/],
    [["run", "--port", "70000"], /--port "70000" must be a whole number from 1 to 65535/],
    [["run", "--port", "0"], /--port "0" must be a whole number from 1 to 65535/],
    [["run", "--engine", "podman"], /--engine "podman" must be one of auto, docker, buildah/],
    [["run", "one", "two"], /run takes one project folder, got 2/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runCli(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, message);
  }
});

test("a missing model directory: /ping answers 503 naming --model-dir and BYOC_MODEL_DIR", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", cli, "serve", "--model-dir", "/nonexistent/model", "--workers", "1"], {
    env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_BIND_TO_PORT: String(port) },
  });
  try {
    let body = "";
    for (let attempt = 0; attempt < 200 && !body.includes("BYOC_MODEL_DIR"); attempt++) {
      body = await fetch(`http://127.0.0.1:${port}/ping`).then(
        async (response) => `${response.status} ${await response.text()}`,
        () => "",
      );
      if (!body.includes("BYOC_MODEL_DIR")) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(body, /^503 /);
    assert.match(body, /The model directory \/nonexistent\/model does not exist; pass --model-dir <dir> \(or set BYOC_MODEL_DIR\)/);
  } finally {
    child.kill("SIGKILL");
  }
});
