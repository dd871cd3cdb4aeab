import assert from "node:assert/strict";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { spawnServe, type ServeChild } from "../helpers/serve-child.js";

const handlers = fileURLToPath(new URL("../fixtures/handlers/misbehaviours.ts", import.meta.url));
const children: ServeChild[] = [];
after(() => {
  for (const server of children) server.child.kill("SIGKILL");
});

async function serve(...args: string[]): Promise<ServeChild> {
  const server = await spawnServe(["--handlers", handlers, "--workers", "1", ...args]);
  children.push(server);
  return server;
}

function call(server: ServeChild, behaviour: string): Promise<Response> {
  return fetch(`${server.url}/invocations`, {
    method: "POST",
    body: "x",
    headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": behaviour },
  });
}

async function threadOf(server: ServeChild, behaviour = "whoami"): Promise<number> {
  const response = await call(server, behaviour);
  assert.equal(response.status, 200);
  return ((await response.json()) as { threadId: number }).threadId;
}

test("when the only worker crashes, /ping stays 200 and a request sent meanwhile is answered by its replacement", async () => {
  const server = await serve();
  const before = await threadOf(server);
  const pings: number[] = [];
  let pinging = true;
  const pinger = (async () => {
    while (pinging) {
      pings.push(await fetch(`${server.url}/ping`).then((response) => response.status));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const crashed = await call(server, "crash");
  assert.equal(crashed.status, 500, "the request on the crashed worker fails");
  const meanwhile = await threadOf(server);
  await server.waitForLog((line) => line["msg"] === "replacement worker loaded its models" && line["worker"] === 1);
  pinging = false;
  await pinger;
  assert.notEqual(meanwhile, before, "a new worker thread answered");
  assert.ok(pings.length > 0);
  assert.deepEqual([...new Set(pings)], [200], "/ping never left 200");
});

test("a rejection a handler leaves unhandled is logged and fails no request: the worker and the request beside it go on", async () => {
  const server = await serve();
  const before = await threadOf(server);
  const beside = call(server, "sleep=300");
  assert.equal(await threadOf(server, "drop-rejection"), before);
  assert.equal((await beside).status, 200, "the request running beside it completed");
  const logged = await server.waitForLog((line) => typeof line["msg"] === "string" && line["msg"].includes("promise rejection unhandled"));
  assert.equal((logged["err"] as { message: string }).message, "a rejection nobody handles");
  assert.equal(await threadOf(server), before, "the same worker still serves");
});

test("a handler that never settles times out with 504, and the responsive worker is probed and kept rather than replaced", async () => {
  const server = await spawnServe(["--handlers", handlers, "--workers", "1", "--timeout", "0.5"], { BYOC_WORKER_RECYCLE_SECONDS: "0.2" });
  children.push(server);
  const before = await threadOf(server);
  assert.equal((await call(server, "never-settle")).status, 504);
  const kept = await server.waitForLog((line) => typeof line["msg"] === "string" && line["msg"].includes("the worker keeps serving"));
  assert.equal(kept["abandoned"], 1);
  assert.equal(await threadOf(server), before, "the same worker serves after the probe");
  assert.equal(server.lines.filter((line) => line["msg"] === "model loaded").length, 1, "no replacement loaded the model");
});
