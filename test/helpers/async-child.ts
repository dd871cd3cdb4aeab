import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { irisModelDir } from "./server.js";
import { s3Credentials } from "./s3-server.js";
import { freePort } from "./free-port.js";

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

/** A `sagemaker-byoc serve --async` child process: the model server and the gateway in one process. */
export interface AsyncChild {
  readonly child: ChildProcess;
  readonly gatewayUrl: string;
  readonly exit: Promise<[number | null, NodeJS.Signals | null]>;
  readonly output: () => string;
}

/** Environment that points a child's async gateway at the test S3 server. */
export function asyncChildEnv(s3Endpoint: string, bucket: string, queueDir: string): Record<string, string> {
  return {
    BYOC_ASYNC_ENDPOINT_NAME: "child-endpoint",
    BYOC_ASYNC_S3_OUTPUT_PATH: `s3://${bucket}/output`,
    BYOC_ASYNC_S3_FAILURE_PATH: `s3://${bucket}/failure`,
    BYOC_ASYNC_S3_ENDPOINT: s3Endpoint,
    BYOC_ASYNC_QUEUE_DIR: queueDir,
    BYOC_ASYNC_RETRY_BASE_SECONDS: "0.05",
    BYOC_ASYNC_RETRY_MAX_SECONDS: "0.5",
    AWS_ACCESS_KEY_ID: s3Credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
  };
}

/** Spawns `serve --async` on free ports and waits until the model and the gateway answer. */
export async function spawnAsyncServe(env: Record<string, string>, handlers: string): Promise<AsyncChild> {
  const [modelPort, gatewayPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    ["--import", "tsx", cli, "serve", "--async", "--model-dir", irisModelDir, "--handlers", handlers, "--workers", "1", "--host", "127.0.0.1"],
    {
      env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_BIND_TO_PORT: String(modelPort), BYOC_ASYNC_PORT: String(gatewayPort), BYOC_ASYNC_HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exit = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  for (let attempt = 0; attempt < 300; attempt++) {
    const model = await fetch(`http://127.0.0.1:${modelPort}/ping`).then((response) => response.status, () => 0);
    const gateway = await fetch(`${gatewayUrl}/ping`).then((response) => response.status, () => 0);
    if (model === 200 && gateway === 200) return { child, gatewayUrl, exit, output: () => output };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`serve --async did not become ready:\n${output}`);
}
