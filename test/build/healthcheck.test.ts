import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../helpers/free-port.js";
import { startTestServer } from "../helpers/server.js";

// The image's HEALTHCHECK (src/build/dockerfile.ts), run here as the container runs it, against
// the real server and against what an unhealthy one looks like.
const script = fileURLToPath(new URL("../../container/healthcheck", import.meta.url));

/** The script's exit code with SAGEMAKER_BIND_TO_PORT set to `port`. */
function check(port: number): Promise<number> {
  return new Promise((resolve) => {
    execFile(script, { env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_BIND_TO_PORT: String(port) }, timeout: 20_000 }, (error) =>
      resolve(error === null ? 0 : typeof error.code === "number" ? error.code : -1),
    );
  });
}

test("healthy: the server's /ping answers 200", async () => {
  const server = await startTestServer();
  try {
    assert.equal(await check(server.port), 0);
  } finally {
    await server.close();
  }
});

test("unhealthy: /ping answers 503 (no model), nothing listens, or /ping hangs past 2 s", async () => {
  const noModel = await startTestServer({ modelDir: "/nonexistent/model" });
  try {
    assert.equal(await check(noModel.port), 1);
  } finally {
    await noModel.close();
  }
  assert.equal(await check(await freePort()), 1);

  const hanging = createServer(() => undefined);
  await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
  try {
    const started = performance.now();
    assert.equal(await check((hanging.address() as AddressInfo).port), 1);
    assert.ok(performance.now() - started < 15_000, "gave up at its own deadline");
  } finally {
    hanging.closeAllConnections();
    hanging.close();
  }
});
