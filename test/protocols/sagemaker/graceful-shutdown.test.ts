import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { test } from "node:test";
import { spawnServe } from "../../helpers/serve-child.js";

const clients = 16;
const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });

test("SIGTERM under load from 16 keep-alive clients: every request the server took is answered, later answers say Connection: close, and it exits 0 without hitting its time limit", async () => {
  const server = await spawnServe(["--workers", "1"], { BYOC_SHUTDOWN_TIMEOUT_SECONDS: "20" });
  const { port } = new URL(server.url);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let answered = 0;
  let answeredAfterSigterm = 0;
  let closingAnswers = 0;
  let sigtermSent = false;
  const failures: string[] = [];
  const send = (): Promise<boolean> =>
    new Promise((resolve) => {
      const outgoing = request(
        { host: "127.0.0.1", port, path: "/invocations", method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (response) => {
          response.resume();
          response.on("end", () => {
            answered++;
            if (sigtermSent) answeredAfterSigterm++;
            if (response.headers.connection === "close") closingAnswers++;
            resolve(true);
          });
        },
      );
      outgoing.on("error", (error: NodeJS.ErrnoException) => {
        failures.push(error.code ?? error.message);
        resolve(false);
      });
      outgoing.end(body);
    });
  const client = async (): Promise<void> => {
    // Each client sends until the server stops taking its requests.
    while (await send());
  };
  const running = Array.from({ length: clients }, client);
  await server.waitForLog((line) => line["msg"] === "invocation" && server.lines.filter((l) => l["msg"] === "invocation").length >= 500);
  sigtermSent = true;
  server.child.kill("SIGTERM");
  const [code, signal] = await server.exit;
  await Promise.all(running);
  agent.destroy();
  const taken = server.lines.filter((line) => line["msg"] === "invocation").length;
  assert.equal(code, 0);
  assert.equal(signal, null);
  assert.equal(answered, taken, "every request the server logged reached its client");
  assert.ok(closingAnswers > 0 && closingAnswers <= clients, `${closingAnswers} answers said Connection: close`);
  assert.ok(answeredAfterSigterm <= clients * 5, `${answeredAfterSigterm} requests were still served after SIGTERM: keep-alive connections went on`);
  assert.deepEqual([...new Set(failures)].filter((code) => code !== "ECONNREFUSED" && code !== "ECONNRESET"), [], "no other client error");
  assert.ok(!server.lines.some((line) => line["msg"] === "shutdown timeout: closing the remaining connections"), "the drain finished before its time limit");
  assert.ok(server.lines.some((line) => line["msg"] === "stopped"));
});
