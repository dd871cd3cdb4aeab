import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runAsyncRequests } from "../../src/cli/async-requests.js";
import type { CommandIo } from "../../src/cli/io.js";
import { runInvokeAsync } from "../../src/cli/invoke-async.js";
import { runInvoke } from "../../src/cli/invoke.js";
import { startProgress } from "../../src/cli/progress.js";
import { startAsyncStack, type AsyncStack } from "../helpers/async-stack.js";
import { s3Credentials } from "../helpers/s3-server.js";

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
let stack: AsyncStack;
let dir: string;

// The CLI's S3 client takes its credentials from the AWS SDK's default chain, as for a user: here, the environment.
process.env["AWS_ACCESS_KEY_ID"] = s3Credentials.accessKeyId;
process.env["AWS_SECRET_ACCESS_KEY"] = s3Credentials.secretAccessKey;

before(async () => {
  stack = await startAsyncStack();
  dir = await mkdtemp(join(tmpdir(), "byoc-cli-"));
});

after(async () => {
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

interface Captured {
  readonly io: CommandIo;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

function capture(stdin = "", tty = false): Captured {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  return { io: { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr }, stdout: () => out, stderr: () => err };
}

const env = (): NodeJS.ProcessEnv => ({ BYOC_ASYNC_ENDPOINT_NAME: "test-endpoint", AWS_REGION: "us-east-1" });

test("invoke: a file through the gateway's InvokeEndpoint to standard output; a model error exits 1 with the ModelError", async () => {
  const input = join(dir, "hello.txt");
  await writeFile(input, "from the cli");
  const ok = capture();
  assert.equal(await runInvoke(["--endpoint-url", stack.gateway.url, "--content-type", "text/plain", input], env(), ok.io), 0);
  assert.equal(JSON.parse(ok.stdout()).echo, "from the cli");

  const failed = capture("x");
  assert.equal(await runInvoke(["--endpoint-url", stack.gateway.url, "--custom-attributes", "status=422", "-"], env(), failed.io), 1);
  assert.match(failed.stderr(), /ModelError: Received client error \(422\) from primary .*\(the model answered 422: .*TOO_DARK/);

  const direct = capture("straight");
  const outputFile = join(dir, "direct.json");
  assert.equal(await runInvoke(["--container-url", stack.server.url, "--content-type", "text/plain", "--inference-id", "direct-1", "--output", outputFile], env(), direct.io), 0);
  assert.equal(JSON.parse(await readFile(outputFile, "utf8")).inferenceId, "direct-1");

  const directFailure = capture("x");
  assert.equal(await runInvoke(["--container-url", `${stack.server.url}/invocations`, "--custom-attributes", "status=409", "--accept", "application/json"], env(), directFailure.io), 1);
  assert.match(directFailure.stderr(), /the container answered 409/);

  const usage = capture();
  assert.equal(await runInvoke(["a", "b"], env(), usage.io), 2);
  assert.match(usage.stderr(), /one input file at most/);
  const help = capture();
  assert.equal(await runInvoke(["--help"], env(), help.io), 0);
  assert.match(help.stdout(), /--endpoint-url/);
});

test("invoke-async: uploads, invokes, waits with a plain progress line off a terminal, prints the output", async () => {
  const input = join(dir, "async.txt");
  await writeFile(input, "async from the cli");
  const run = capture();
  const code = await runInvokeAsync(
    ["--input-location", `s3://${stack.s3.bucket}/cli/async.txt`, "--endpoint-url", stack.gateway.url, "--s3-endpoint", stack.s3.endpoint, "--content-type", "text/plain", "--inference-id", "cli-1", input],
    env(),
    run.io,
  );
  assert.equal(code, 0, run.stderr());
  assert.equal(JSON.parse(run.stdout()).echo, "async from the cli");
  assert.match(run.stderr(), /accepted: inference id cli-1\n {2}output: {2}s3:\/\/async-bucket\/output\/cli-1\.out\n {2}failure: s3:\/\/async-bucket\/failure\/cli-1-error\.out\n/);
  assert.match(run.stderr(), /^waiting for s3:\/\/async-bucket\/output\/cli-1\.out \.\.\.$/m);
  assert.ok(!run.stderr().includes("\r"), "no spinner off a terminal");
});

test("invoke-async: a failed inference prints the failure object and exits 1; on a terminal the wait shows a spinner", async () => {
  const run = capture("dark", true);
  const code = await runInvokeAsync(
    ["--input-location", `s3://${stack.s3.bucket}/cli/dark.txt`, "--endpoint-url", stack.gateway.url, "--s3-endpoint", stack.s3.endpoint, "--custom-attributes", "status=422", "-"],
    env(),
    run.io,
  );
  assert.equal(code, 1);
  assert.match(run.stderr(), /the inference failed \(s3:\/\/async-bucket\/failure\/.*-error\.out\):\n\{"error":\{"code":"TOO_DARK"/);
  assert.match(run.stderr(), /\r\x1b\[K[|/\\-] waiting for s3:\/\/async-bucket\/output\/.*\.out \(\d+ s\)/);
});

test("invoke-async: usage errors exit 2, service errors and timeouts exit 1, --no-wait returns at once", async () => {
  const missing = capture();
  assert.equal(await runInvokeAsync(["--endpoint-url", stack.gateway.url], env(), missing.io), 2);
  assert.match(missing.stderr(), /give --input-location/);

  const invalid = capture();
  await stack.s3.put("cli/existing.txt", "already there", "text/plain");
  const base = ["--input-location", `s3://${stack.s3.bucket}/cli/existing.txt`, "--endpoint-url", stack.gateway.url, "--s3-endpoint", stack.s3.endpoint];
  assert.equal(await runInvokeAsync([...base, "--request-ttl", "30"], env(), invalid.io), 1);
  assert.match(invalid.stderr(), /ValidationError: 1 validation error detected: Value '30' at 'requestTTLSeconds'/);

  const noWait = capture();
  assert.equal(await runInvokeAsync([...base, "--no-wait", "--inference-id", "cli-nowait"], env(), noWait.io), 0);
  assert.equal(noWait.stdout(), "");
  await stack.gateway.waitFor("cli-nowait");

  const slow = capture();
  assert.equal(await runInvokeAsync([...base, "--custom-attributes", "sleep=1500", "--wait-timeout", "0.3", "--invocation-timeout", "5"], env(), slow.io), 1);
  assert.match(slow.stderr(), /no result after 0\.3 s/);

  const help = capture();
  assert.equal(await runInvokeAsync(["-h"], env(), help.io), 0);
  assert.match(help.stdout(), /--wait-timeout/);
});

test("async-requests lists and shows the queue directory's requests, as a table or JSON", async () => {
  const queueEnv = { BYOC_ASYNC_QUEUE_DIR: stack.queueDir };
  const table = capture();
  assert.equal(await runAsyncRequests([], queueEnv, table.io), 0);
  const lines = table.stdout().trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^INFERENCE ID\s+STATUS\s+ATTEMPTS\s+RECEIVED\s+DETAIL$/);
  assert.ok(lines.some((line) => /^cli-1\s+completed\s+1\s+\S+\s+s3:\/\/async-bucket\/output\/cli-1\.out$/.test(line)));

  const failed = capture();
  assert.equal(await runAsyncRequests(["list", "--status", "failed", "--json"], queueEnv, failed.io), 0);
  const records = JSON.parse(failed.stdout()) as Array<{ status: string; failureReason: string }>;
  assert.ok(records.length > 0 && records.every((record) => record.status === "failed" && record.failureReason.startsWith("ClientError")));

  const shown = capture();
  assert.equal(await runAsyncRequests(["show", "cli-1", "--queue-dir", stack.queueDir], {}, shown.io), 0);
  assert.equal(JSON.parse(shown.stdout()).outputLocation, "s3://async-bucket/output/cli-1.out");

  const unknown = capture();
  assert.equal(await runAsyncRequests(["show", "nope"], queueEnv, unknown.io), 1);
  assert.match(unknown.stderr(), /no request with inference id "nope"/);
  const usage = capture();
  assert.equal(await runAsyncRequests(["remove", "x"], queueEnv, usage.io), 2);
  const help = capture();
  assert.equal(await runAsyncRequests(["--help"], queueEnv, help.io), 0);
  const empty = capture();
  assert.equal(await runAsyncRequests(["list"], { BYOC_ASYNC_QUEUE_DIR: join(dir, "no-queue-here") }, empty.io), 0);
  assert.equal(empty.stdout().trim().split("\n").length, 1, "only the header");
});

test("the progress indicator stops cleanly", () => {
  const writes: string[] = [];
  const progress = startProgress({ isTTY: true, write: (text: string) => writes.push(text) }, "waiting", 5);
  progress.stop();
  assert.equal(writes.at(-1), "\r\x1b[K");
});

test("as processes: invoke-async and invoke through the sagemaker-byoc CLI, with their exit codes", async () => {
  const input = join(dir, "process.txt");
  await writeFile(input, "as a process");
  const run = async (args: string[]) => {
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
      env: { PATH: process.env["PATH"] ?? "", ...env(), AWS_ACCESS_KEY_ID: s3Credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number];
    return { code, stdout, stderr };
  };
  const [asyncRun, realtime, failing] = await Promise.all([
    run(["invoke-async", "--input-location", `s3://${stack.s3.bucket}/cli/process.txt`, "--endpoint-url", stack.gateway.url, "--s3-endpoint", stack.s3.endpoint, "--content-type", "text/plain", input]),
    run(["invoke", "--endpoint-url", stack.gateway.url, "--content-type", "text/plain", input]),
    run(["invoke", "--endpoint-url", stack.gateway.url, "--custom-attributes", "status=500", input]),
  ]);
  assert.equal(asyncRun.code, 0, asyncRun.stderr);
  assert.equal(JSON.parse(asyncRun.stdout).echo, "as a process");
  assert.equal(realtime.code, 0, realtime.stderr);
  assert.equal(JSON.parse(realtime.stdout).echo, "as a process");
  assert.equal(failing.code, 1);
  const usage = await run(["invoke-async", "--wait-timeout", "soon", "--input-location", "s3://b/k"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--wait-timeout "soon" must be a positive number of seconds/);
});
