import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startServer } from "../../../src/server.js";
import { irisModelDir } from "../../helpers/server.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/handlers/${name}`, import.meta.url));
const base = { port: 0, host: "127.0.0.1", workers: 1, logLevel: "silent" as const };

test("/ping is 503 while the model loads, then 200", async () => {
  const server = await startServer({ ...base, modelDir: irisModelDir, handlersPath: fixture("slow-load.ts") }, {});
  try {
    const loading = await fetch(`${server.url}/ping`);
    assert.equal(loading.status, 503);
    assert.deepEqual(await loading.json(), { error: { code: "MODEL_NOT_READY", message: "Model is loading" } });
    const early = await fetch(`${server.url}/invocations`, { method: "POST", body: "x" });
    assert.equal(early.status, 503);
    await server.loaded;
    const ready = await fetch(`${server.url}/ping`);
    assert.equal(ready.status, 200);
  } finally {
    await server.close();
  }
});

test("a modelFn that throws keeps /ping at 503 with the reason", async () => {
  const server = await startServer({ ...base, modelDir: irisModelDir, handlersPath: fixture("load-fails.ts") }, {});
  try {
    await server.loaded;
    const ping = await fetch(`${server.url}/ping`);
    assert.equal(ping.status, 503);
    const body = (await ping.json()) as { error: { message: string } };
    assert.match(body.error.message, /weights file is corrupt/);
  } finally {
    await server.close();
  }
});

test("transformFn combined with inputFn fails at start-up and /ping says why", async () => {
  const server = await startServer({ ...base, modelDir: irisModelDir, handlersPath: fixture("transform-and-input.mjs") }, {});
  try {
    await server.loaded;
    const ping = await fetch(`${server.url}/ping`);
    assert.equal(ping.status, 503);
    assert.match(((await ping.json()) as { error: { message: string } }).error.message, /transformFn together with inputFn/);
  } finally {
    await server.close();
  }
});

test("a missing model directory keeps /ping at 503 naming it", async () => {
  const server = await startServer({ ...base, modelDir: "/nonexistent/model" }, {});
  try {
    await server.loaded;
    const ping = await fetch(`${server.url}/ping`);
    assert.equal(ping.status, 503);
    assert.match(((await ping.json()) as { error: { message: string } }).error.message, /\/nonexistent\/model/);
    const invocation = await fetch(`${server.url}/invocations`, { method: "POST", body: "[1]", headers: { "content-type": "application/json" } });
    assert.equal(invocation.status, 503);
    assert.match(((await invocation.json()) as { error: { message: string } }).error.message, /Model failed to load/);
  } finally {
    await server.close();
  }
});

test("a JavaScript transformFn answers with its own content type", async () => {
  const server = await startServer({ ...base, modelDir: irisModelDir, handlersPath: fixture("transform.js") }, {});
  try {
    await server.loaded;
    const response = await fetch(`${server.url}/invocations`, { method: "POST", body: "abc", headers: { "content-type": "text/plain", accept: "text/plain" } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/plain");
    assert.equal(await response.text(), "transformed:abc|text/plain|text/plain");
  } finally {
    await server.close();
  }
});
