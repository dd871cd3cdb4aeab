import { fileURLToPath } from "node:url";
import { startServer, type RunningServer } from "../../src/server.js";
import type { ConfigOverrides } from "../../src/config/server-config.js";

/** The bundled iris model directory. */
export const irisModelDir = fileURLToPath(new URL("../../examples/iris/model", import.meta.url));

/** A typical setosa row (class 0). */
export const setosaRow = [5.1, 3.5, 1.4, 0.2];

/**
 * Starts a real server on a free loopback port and waits for the model. The environment is
 * empty so the machine's variables cannot leak into tests.
 */
export async function startTestServer(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const server = await startServer(
    { port: 0, host: "127.0.0.1", modelDir: irisModelDir, workers: 1, logLevel: "silent", ...overrides },
    env,
  );
  await server.loaded;
  return server;
}

/** POSTs to `/invocations`. */
export function invoke(server: RunningServer, body: NonNullable<RequestInit["body"]>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/invocations`, { method: "POST", body, headers });
}
