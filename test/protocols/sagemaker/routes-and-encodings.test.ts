import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import type { RunningServer } from "../../../src/server.js";
import { irisModelDir, setosaRow, startTestServer } from "../../helpers/server.js";

let server: RunningServer;
before(async () => {
  server = await startTestServer({ modelDir: irisModelDir, workers: 1, maxPayloadBytes: 64 * 1024 });
  await server.loaded;
});
after(() => server.close());

const rows = JSON.stringify({ instances: [setosaRow] });

function raw(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
    socket.write(head);
  });
}

test("only the exact paths are /invocations: other cases, a trailing slash or a fragment are 404, not 405", async () => {
  for (const path of ["/INVOCATIONS", "/invocations/", "/Invocations"]) {
    const response = await fetch(`${server.url}${path}`, { method: "POST", body: rows, headers: { "content-type": "application/json" } });
    assert.equal(response.status, 404, path);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
  }
  const fragment = await raw(`POST /invocations#x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${rows.length}\r\nConnection: close\r\n\r\n${rows}`);
  assert.match(fragment, /^HTTP\/1\.1 404 /);
});

test("a wrong method on an exact path is 405 with Allow", async () => {
  const get = await fetch(`${server.url}/invocations`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  const post = await fetch(`${server.url}/ping`, { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  assert.equal(((await post.json()) as { error: { code: string } }).error.code, "METHOD_NOT_ALLOWED");
});

test("gzip, deflate and br bodies are decoded before the handlers see them, and give the same prediction as plain JSON", async () => {
  const plain = await (await fetch(`${server.url}/invocations`, { method: "POST", body: rows, headers: { "content-type": "application/json" } })).text();
  for (const [coding, bytes] of [["gzip", gzipSync(rows)], ["deflate", deflateSync(rows)], ["br", brotliCompressSync(rows)], ["gzip, br", brotliCompressSync(gzipSync(rows))]] as const) {
    const response = await fetch(`${server.url}/invocations`, { method: "POST", body: bytes, headers: { "content-type": "application/json", "content-encoding": coding } });
    assert.equal(response.status, 200, coding);
    assert.equal(await response.text(), plain, coding);
  }
});

test("an unknown Content-Encoding is a 415, a corrupt one a 400, and one that decodes past the payload limit a 413", async () => {
  const unknown = await fetch(`${server.url}/invocations`, { method: "POST", body: rows, headers: { "content-type": "application/json", "content-encoding": "zstd" } });
  assert.equal(unknown.status, 415);
  assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /Content-Encoding zstd is not supported/);
  const corrupt = await fetch(`${server.url}/invocations`, { method: "POST", body: "not gzip", headers: { "content-type": "application/json", "content-encoding": "gzip" } });
  assert.equal(corrupt.status, 400);
  assert.equal(((await corrupt.json()) as { error: { code: string } }).error.code, "INVALID_CONTENT_ENCODING");
  // 1 MiB of zeros compresses to about 1 KB, far under the 64 KiB limit; decoded it is 16 times over it.
  const bomb = gzipSync(Buffer.alloc(1024 * 1024));
  assert.ok(bomb.length < 64 * 1024);
  const tooBig = await fetch(`${server.url}/invocations`, { method: "POST", body: bomb, headers: { "content-type": "application/json", "content-encoding": "gzip" } });
  assert.equal(tooBig.status, 413);
});
