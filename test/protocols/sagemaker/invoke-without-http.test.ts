import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelNotReadyError } from "../../../src/errors.js";
import { startServer } from "../../../src/server.js";
import { irisModelDir, setosaRow, startTestServer } from "../../helpers/server.js";

const request = (body: Buffer) => ({
  body,
  contentType: "application/json",
  accept: undefined,
  customAttributes: undefined,
  inferenceId: "direct",
  targetModel: undefined,
  targetVariant: undefined,
  sessionId: undefined,
});

test("server.invoke runs the pipeline without HTTP; transferBody moves an owned body instead of copying it", async () => {
  const server = await startTestServer();
  try {
    const json = JSON.stringify({ instances: [setosaRow] });
    const kept = Buffer.from(json);
    const copied = await server.invoke(request(kept), AbortSignal.timeout(5_000));
    assert.equal(kept.toString(), json, "without transferBody the caller's body is untouched");

    const owned = Buffer.alloc(Buffer.byteLength(json));
    owned.write(json);
    assert.equal(owned.buffer.byteLength, owned.byteLength, "the test body owns its ArrayBuffer");
    const moved = await server.invoke(request(owned), AbortSignal.timeout(5_000), { transferBody: true });
    assert.equal(owned.byteLength, 0, "the body was transferred to the worker, not copied");
    assert.deepEqual(JSON.parse(Buffer.from(moved.body as Uint8Array).toString()), JSON.parse(Buffer.from(copied.body as Uint8Array).toString()));
    assert.equal(moved.contentType, "application/json");

    const pooled = Buffer.from(json); // shares Node's 8 KiB pool: must be copied even when asked to transfer
    assert.notEqual(pooled.buffer.byteLength, pooled.byteLength);
    await server.invoke(request(pooled), AbortSignal.timeout(5_000), { transferBody: true });
    assert.equal(pooled.toString(), json);
  } finally {
    await server.close();
  }
});

test("server.invoke rejects with ModelNotReadyError while the model is loading", async () => {
  const server = await startServer({ port: 0, host: "127.0.0.1", modelDir: irisModelDir, workers: 1, logLevel: "silent" }, {});
  try {
    await assert.rejects(server.invoke(request(Buffer.from("[]")), AbortSignal.timeout(5_000)), ModelNotReadyError);
  } finally {
    await server.loaded;
    await server.close();
  }
});
