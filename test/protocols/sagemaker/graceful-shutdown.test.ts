import assert from "node:assert/strict";
import { test } from "node:test";
import { startKeepAliveLoad } from "../../helpers/keep-alive-load.js";
import { spawnServe } from "../../helpers/serve-child.js";

const clients = 16;
const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });

test("SIGTERM under load from 16 keep-alive clients: every request the server took is answered, Connection: close comes only after SIGTERM and on no more answers than there are connections, and it exits 0 without hitting its time limit", async () => {
  const server = await spawnServe(["--workers", "1"], { BYOC_SHUTDOWN_TIMEOUT_SECONDS: "20" });
  const { port } = new URL(server.url);
  const load = startKeepAliveLoad(Number(port), clients, body);
  await server.waitForLog((line) => line["msg"] === "invocation" && server.lines.filter((l) => l["msg"] === "invocation").length >= 500);
  load.mark();
  server.child.kill("SIGTERM");
  const [code, signal] = await server.exit;
  await load.stopped;
  load.close();
  const taken = server.lines.filter((line) => line["msg"] === "invocation").length;
  assert.equal(code, 0);
  assert.equal(signal, null);
  assert.equal(load.answered, taken, "every request the server logged reached its client");
  // How many answers say Connection: close depends on how many connections had a request under
  // way when the drain began (idle ones are closed without an answer), which the machine's load
  // decides; that none says it before SIGTERM and no connection is served past one does not.
  assert.equal(load.closingAfterMark, load.closing, "no answer said Connection: close before SIGTERM");
  assert.ok(load.closing <= clients, `${load.closing} answers said Connection: close, more than there are connections`);
  assert.ok(load.answeredAfterMark <= clients * 5, `${load.answeredAfterMark} requests were still served after SIGTERM: keep-alive connections went on`);
  assert.deepEqual([...load.errors.keys()].filter((code) => code !== "ECONNREFUSED" && code !== "ECONNRESET"), [], "no other client error");
  assert.ok(!server.lines.some((line) => line["msg"] === "shutdown timeout: closing the remaining connections"), "the drain finished before its time limit");
  assert.ok(server.lines.some((line) => line["msg"] === "stopped"));
});
