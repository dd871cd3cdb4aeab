import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "../../src/server.js";
import { listenToFixtures } from "../helpers/fixture-events.js";
import { irisModelDir, startTestServer } from "../helpers/server.js";

const handlers = fileURLToPath(new URL("../fixtures/handlers/misbehaviours.ts", import.meta.url));
const servers: RunningServer[] = [];
const sockets: Socket[] = [];
after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => server.close()));
});

async function open(server: RunningServer): Promise<Socket> {
  const socket = connect(server.port, "127.0.0.1");
  sockets.push(socket);
  await once(socket, "connect");
  return socket;
}

/** Sends a whole request on `socket` and resolves with the raw answer once the server has sent it. */
function request(socket: Socket, head: string): Promise<string> {
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
  socket.write(head);
  return new Promise((resolve) => {
    const check = (): void => {
      const [headers = "", body = ""] = received.split("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? "-1");
      if (length >= 0 && Buffer.byteLength(body) >= length) resolve(received);
      else setTimeout(check, 5);
    };
    check();
  });
}

async function serverWithCap(maxConnections: number): Promise<RunningServer> {
  const server = await startTestServer({ modelDir: irisModelDir, handlersPath: handlers, workers: 1, maxConnections });
  servers.push(server);
  await server.loaded;
  return server;
}

test("at the connection cap, idle sockets make room: the longest idle is closed and /ping still answers", async () => {
  const server = await serverWithCap(4);
  const idle = [await open(server), await open(server), await open(server), await open(server)];
  const firstClosed = once(idle[0] as Socket, "close");
  const ping = await fetch(`${server.url}/ping`);
  assert.equal(ping.status, 200);
  await firstClosed;
  assert.equal((idle[3] as Socket).destroyed, false, "the newest idle socket stays open");
});

test("at the cap with every connection busy, a new connection gets a 503 TOO_MANY_CONNECTIONS and is closed", async () => {
  const server = await serverWithCap(2);
  const fixtures = listenToFixtures();
  try {
    const held = ["held-1", "held-2"];
    const answers = held.map(async (inferenceId) =>
      request(
        await open(server),
        `POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nX-Amzn-SageMaker-Inference-Id: ${inferenceId}\r\nX-Amzn-SageMaker-Custom-Attributes: hold\r\nContent-Length: 1\r\n\r\nx`,
      ),
    );
    for (const inferenceId of held) await fixtures.next(`request ${inferenceId} in its handler`, (event) => event.inferenceId === inferenceId);
    const refused = await request(await open(server), "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(refused, /^HTTP\/1\.1 503 /);
    assert.match(refused, /\r\nretry-after: 1\r\n/i);
    assert.equal(JSON.parse(refused.split("\r\n\r\n")[1] as string).error.code, "TOO_MANY_CONNECTIONS");
    for (const inferenceId of held) fixtures.release(inferenceId);
    for (const answer of await Promise.all(answers)) assert.match(answer, /^HTTP\/1\.1 200 /, "the busy connections were served");
  } finally {
    fixtures.close();
  }
});
