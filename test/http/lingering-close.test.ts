import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { RunningServer } from "../../src/server.js";
import { irisModelDir, startTestServer } from "../helpers/server.js";

const run = promisify(execFile);
let server: RunningServer;
before(async () => {
  server = await startTestServer({ modelDir: irisModelDir, workers: 1, timeoutMs: 500 });
  await server.loaded;
});
after(() => server.close());

// Python's http.client sends the whole body before it reads the answer, as many SDKs do: it is
// the client the issue names, run unmodified.
const pythonClient = `
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
body = b"[" + b"1," * (int(sys.argv[2]) // 2) + b"1]"
conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
response = conn.getresponse()
print(response.status, response.getheader("connection"), response.read().decode())
`;

test("a declared body over the limit: Python's http.client, which sends it all first, reads the 413 instead of a broken pipe", async () => {
  const { stdout } = await run("python3", ["-c", pythonClient, String(server.port), String(20 * 1024 * 1024)]);
  const [status, connection, ...body] = stdout.trim().split(" ");
  assert.equal(status, "413");
  assert.equal(connection, "close");
  assert.match(body.join(" "), /PAYLOAD_TOO_LARGE/);
});

test("an upload that stalls past the time limit gets a whole 504 that says Connection: close, and the connection is not reset", async () => {
  const socket = connect(server.port, "127.0.0.1");
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
  const ended = new Promise<string>((resolve, reject) => {
    socket.on("end", () => resolve("end"));
    socket.on("error", reject);
  });
  socket.write("POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[1,2,");
  assert.equal(await ended, "end", "the server half-closed after the answer (a reset would reject)");
  socket.destroy();
  const [head = "", body = ""] = received.split("\r\n\r\n");
  assert.match(head, /^HTTP\/1\.1 504 /);
  assert.match(head, /\r\nconnection: close\r\n/i);
  assert.equal(JSON.parse(body).error.code, "TIMEOUT");
});
