import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
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

test("invoke: a file through the gateway's InvokeEndpoint to standard output; a model error exits 1 with the ModelError", { timeout: 60_000 }, async () => {
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

test("invoke-async: uploads, invokes, waits with a plain progress line off a terminal, prints the output", { timeout: 60_000 }, async () => {
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

test("invoke-async: a failed inference prints the failure object and exits 1; on a terminal the wait shows a spinner", { timeout: 60_000 }, async () => {
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

test("invoke-async: usage errors exit 2, service errors and timeouts exit 1, --no-wait returns at once", { timeout: 60_000 }, async () => {
  const missing = capture();
  assert.equal(await runInvokeAsync(["--endpoint-url", stack.gateway.url], env(), missing.io), 2);
  assert.match(missing.stderr(), /give --input-location/);
  const malformed = capture();
  assert.equal(await runInvokeAsync(["--input-location", "https://host/bucket/key%E0%A4%A", "--endpoint-url", stack.gateway.url], env(), malformed.io), 2);
  assert.match(malformed.stderr(), /give --input-location/);

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

/**
 * An HTTP proxy on loopback in front of `target` that can answer some requests itself (`answer`
 * returns a status) or change the status of an upstream answer (`status`). It forwards the Host
 * header unchanged, so SigV4 signatures still verify behind it.
 */
async function startProxy(
  target: string,
  hooks: { answer?: (request: IncomingMessage) => number | undefined; status?: (request: IncomingMessage, status: number) => number },
): Promise<{ url: string; readonly seen: Array<{ method: string; url: string }>; close(): Promise<void> }> {
  const seen: Array<{ method: string; url: string }> = [];
  const server = createServer((request, response) => {
    seen.push({ method: request.method ?? "", url: request.url ?? "" });
    const own = hooks.answer?.(request);
    if (own !== undefined) {
      request.resume();
      response.writeHead(own, { "content-type": "application/json" }).end('{"message":"not here"}');
      return;
    }
    const upstream = httpRequest(new URL(request.url ?? "/", target), { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(hooks.status?.(request, answer.statusCode ?? 502) ?? answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on("error", () => response.destroy());
    request.pipe(upstream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

test("invoke-async: a 403 from HeadObject (no s3:ListBucket) means not there yet, said once per object", { timeout: 60_000 }, async () => {
  // S3 answers 403 instead of 404 for a missing key when the caller may not list the bucket; s3rver has no policies, so a proxy plays that part.
  const s3 = await startProxy(stack.s3.endpoint, { status: (request, status) => (request.method === "HEAD" && status === 404 ? 403 : status) });
  try {
    const run = capture("forbidden");
    const code = await runInvokeAsync(
      ["--input-location", `s3://${stack.s3.bucket}/cli/forbidden.txt`, "--endpoint-url", stack.gateway.url, "--s3-endpoint", s3.url, "--content-type", "text/plain", "--custom-attributes", "sleep=300", "-"],
      env(),
      run.io,
    );
    assert.equal(code, 0, run.stderr());
    assert.deepEqual(JSON.parse(run.stdout()), { slept: 300 });
    const notes = run.stderr().split("\n").filter((line) => /answered 403/.test(line));
    assert.ok(notes.length >= 1 && notes.length <= 2, run.stderr());
    assert.match(notes[0] ?? "", /^HeadObject s3:\/\/async-bucket\/(output|failure)\/.* answered 403: without s3:ListBucket on the bucket, S3 answers 403 instead of 404 for a missing object; still waiting$/);
    assert.equal(new Set(notes).size, notes.length, "each object's note once");
  } finally {
    await s3.close();
  }
});

test("invoke-async: against the gateway, a failure without a failure object ends the wait with the failure reason; elsewhere it waits on S3 alone", { timeout: 60_000 }, async () => {
  const noFailurePath = await startAsyncStack({ s3FailurePath: undefined });
  try {
    const run = capture("dark");
    const started = Date.now();
    const code = await runInvokeAsync(
      ["--input-location", `s3://${noFailurePath.s3.bucket}/cli/dark.txt`, "--endpoint-url", noFailurePath.gateway.url, "--s3-endpoint", noFailurePath.s3.endpoint, "--custom-attributes", "status=422", "--wait-timeout", "30", "-"],
      env(),
      run.io,
    );
    assert.equal(code, 1);
    assert.match(run.stderr(), /failure: \(no S3FailurePath configured\)/);
    assert.match(run.stderr(), /sagemaker-byoc invoke-async: the inference failed: ClientError: Received client error \(422\) from model with message "The image is too dark"/);
    assert.ok(Date.now() - started < 20_000, "it did not wait for --wait-timeout");
  } finally {
    await noFailurePath.close();
  }

  // A SageMaker Runtime without the toolkit's /async-requests (AWS): asked once, then only S3.
  const runtime = await startProxy(stack.gateway.url, { answer: (request) => (request.method === "GET" ? 404 : undefined) });
  try {
    const run = capture("dark");
    const code = await runInvokeAsync(
      ["--input-location", `s3://${stack.s3.bucket}/cli/dark2.txt`, "--endpoint-url", runtime.url, "--s3-endpoint", stack.s3.endpoint, "--custom-attributes", "status=422", "-"],
      env(),
      run.io,
    );
    assert.equal(code, 1);
    assert.match(run.stderr(), /the inference failed \(s3:\/\/async-bucket\/failure\/.*-error\.out\):\n\{"error":\{"code":"TOO_DARK"/);
    assert.equal(runtime.seen.filter((request) => request.url.startsWith("/async-requests/")).length, 1);
  } finally {
    await runtime.close();
  }
});

test("async-requests lists and shows the queue directory's requests, as a table or JSON", { timeout: 60_000 }, async () => {
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
  const byEndpoint = capture();
  assert.equal(await runAsyncRequests(["show", "cli-1", "--endpoint-name", "no-such-endpoint-here"], {}, byEndpoint.io), 1);
  assert.match(byEndpoint.stderr(), new RegExp(`in ${join(tmpdir(), "sagemaker-byoc-async", "no-such-endpoint-here").replaceAll("/", "\\/")}\n`), "the endpoint's default queue directory");
});

test("the progress indicator stops cleanly", { timeout: 60_000 }, () => {
  const writes: string[] = [];
  const progress = startProgress({ isTTY: true, write: (text: string) => writes.push(text) }, "waiting", 5);
  progress.note("a note");
  assert.equal(writes.at(-2), "\r\x1b[Ka note\n", "the note clears the spinner's line");
  assert.match(writes.at(-1) ?? "", /^\r\x1b\[K. waiting \(0 s\)$/, "and the spinner goes on below");
  progress.stop();
  assert.equal(writes.at(-1), "\r\x1b[K");
});

test("as processes: invoke-async and invoke through the sagemaker-byoc CLI, with their exit codes", { timeout: 60_000 }, async () => {
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
