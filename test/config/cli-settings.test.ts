import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

/** Runs the real CLI from source, with an environment holding only PATH and `env`. */
async function sagemakerByoc(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { env: { PATH: process.env["PATH"] ?? "", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

const refusals: readonly { readonly args: string[]; readonly env?: Record<string, string>; readonly message: string }[] = [
  { args: ["serve", "--port", "70000"], message: 'sagemaker-byoc: --port "70000" must be a whole number from 0 to 65535\n' },
  { args: ["serve", "--workers", "0"], message: 'sagemaker-byoc: --workers "0" must be a whole number from 1 to 1024\n' },
  { args: ["serve", "--timeout=-1"], message: 'sagemaker-byoc: --timeout "-1" must be a positive number of seconds up to 2147483\n' },
  { args: ["serve"], env: { BYOC_ONNX_WARM_UP: "maybe" }, message: 'sagemaker-byoc: BYOC_ONNX_WARM_UP="maybe" must be true or false (or 1/0, yes/no, on/off)\n' },
  { args: ["serve", "--async", "--async-port", "65536", "--s3-output-path", "s3://b/o"], message: 'sagemaker-byoc: --async-port "65536" must be a whole number from 0 to 65535\n' },
  { args: ["push", "--tls-verify", "maybe"], message: 'sagemaker-byoc: --tls-verify "maybe" must be true or false (or 1/0, yes/no, on/off)\n' },
  { args: ["gateway", "--port", "70000", "--invocations-url", "http://127.0.0.1:9/invocations"], message: 'sagemaker-byoc: --port "70000" must be a whole number from 0 to 65535\n' },
  { args: ["gateway", "--invocations-url", "ftp://model"], message: 'sagemaker-byoc: --invocations-url "ftp://model" must be an http:// or https:// URL\n' },
  { args: ["build", "--tag", "app:"], message: 'sagemaker-byoc: --tag "app:" must be an image reference such as node:24-bookworm-slim or registry:5000/team/app:1.0.0, or several separated by commas\n' },
  { args: ["invoke-async", "--input-location", "s3://b/k", "--region", "moon-1"], message: 'sagemaker-byoc: --region "moon-1" must be an AWS region such as us-east-1\n' },
];

for (const { args, env, message } of refusals) {
  test(`${args.join(" ")}${env === undefined ? "" : ` with ${JSON.stringify(env)}`}: exit 2 with the setting and what it accepts, before anything starts`, async () => {
    const result = await sagemakerByoc(args, env);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, message);
    assert.equal(result.stdout, "", "nothing started, nothing logged");
  });
}

test("several bad values from flags and variables are listed together", async () => {
  const result = await sagemakerByoc(["serve", "--port", "70000", "--workers", "0"], { SAGEMAKER_MODEL_SERVER_TIMEOUT: "soon" });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    [
      "sagemaker-byoc: 3 invalid settings:",
      '  SAGEMAKER_MODEL_SERVER_TIMEOUT="soon" must be a positive number of seconds up to 2147483',
      '  --port "70000" must be a whole number from 0 to 65535',
      '  --workers "0" must be a whole number from 1 to 1024',
      "",
    ].join("\n"),
  );
});

test("the retry rule names where each value came from", async () => {
  const result = await sagemakerByoc(["gateway", "--invocations-url", "http://127.0.0.1:9/invocations"], { BYOC_ASYNC_RETRY_BASE_SECONDS: "5", BYOC_ASYNC_RETRY_MAX_SECONDS: "1" });
  assert.equal(result.code, 2);
  assert.equal(result.stderr, "sagemaker-byoc: BYOC_ASYNC_RETRY_MAX_SECONDS (1) must not be below BYOC_ASYNC_RETRY_BASE_SECONDS (5)\n");
});
