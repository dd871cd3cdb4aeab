/** A gateway child process in front of a stand-in container, for the async attacks. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cliArgs, freePort, spawnNode, waitUntilReady, type MeasuredChild } from "./harness.js";

export const endpointName = "reliability-endpoint";
export const successTopic = "arn:aws:sns:us-east-1:000000000000:reliability-success";

/** A gateway child process and its stand-in container. */
export interface GatewayChild {
  readonly url: string;
  readonly process: MeasuredChild;
  close(): Promise<void>;
}

/**
 * Starts `sagemaker-byoc gateway` on `queueDir` in front of a stand-in container that is always
 * ready (and echoes what it is sent), with the default retry settings. S3 and SNS are unreachable
 * (connections refused: the failure that comes back fastest, so the one that costs the most CPU
 * when retried) unless `extraEnv` points them somewhere.
 */
export async function startGatewayChild(queueDir: string, extraEnv: Record<string, string> = {}): Promise<GatewayChild> {
  const container = await startReadyContainer();
  const [gatewayPort, deadS3, deadSns] = [await freePort(), await freePort(), await freePort()];
  const gateway = spawnNode(
    [...cliArgs, "gateway", "--invocations-url", `${container.url}/invocations`, "--port", String(gatewayPort), "--host", "127.0.0.1", "--queue-dir", queueDir],
    {
      BYOC_ASYNC_ENDPOINT_NAME: endpointName,
      BYOC_ASYNC_S3_OUTPUT_PATH: "s3://reliability-bucket/output",
      BYOC_ASYNC_S3_FAILURE_PATH: "s3://reliability-bucket/failure",
      BYOC_ASYNC_S3_ENDPOINT: `http://127.0.0.1:${deadS3}`,
      BYOC_ASYNC_SNS_ENDPOINT: `http://127.0.0.1:${deadSns}`,
      AWS_ACCESS_KEY_ID: "reliability",
      AWS_SECRET_ACCESS_KEY: "reliability",
      AWS_REGION: "us-east-1",
      ...extraEnv,
    },
  );
  const url = `http://127.0.0.1:${gatewayPort}`;
  try {
    await waitUntilReady(`${url}/ping`, gateway);
  } catch (error) {
    await gateway.stop();
    container.server.close();
    throw error;
  }
  return {
    url,
    process: gateway,
    async close() {
      await gateway.stop();
      container.server.closeAllConnections();
      await new Promise((resolve) => container.server.close(resolve));
    },
  };
}

async function startReadyContainer(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    if (request.url === "/ping") response.writeHead(200, { "content-type": "application/json" }).end('{"status":"ready"}');
    else request.pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
