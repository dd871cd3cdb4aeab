import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "../../../src/server.js";
import { invoke, startTestServer } from "../../helpers/server.js";

const byteEcho = fileURLToPath(new URL("../../fixtures/handlers/byte-echo.ts", import.meta.url));
let server: RunningServer;

before(async () => {
  server = await startTestServer({ handlersPath: byteEcho, maxPayloadBytes: 4 << 20 });
});
after(() => server.close());

// Small bodies cross to the worker as latin1 strings and large ones as transferred buffers
// (src/dispatch/worker-pool.ts): both must be byte-exact, every byte value included.
for (const size of [0, 1, 256, 64 * 1024, 64 * 1024 + 1, 3 << 20]) {
  test(`a ${size}-byte binary body reaches the handler and comes back byte for byte`, async () => {
    const body = size === 256 ? Buffer.from(Array.from({ length: 256 }, (_, byte) => byte)) : randomBytes(size);
    const response = await invoke(server, body, { "content-type": "application/octet-stream", accept: "application/octet-stream" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/octet-stream");
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), body);
  });
}
