import assert from "node:assert/strict";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { encodeRequest, KeepAliveConnection, RequestAbandonedError, RequestTimeoutError } from "../../bench/http-client.js";

/**
 * A raw TCP server whose answer to each request is chosen by the request's path, so the test
 * controls every byte: framing, `Connection: close`, silence, a dropped connection.
 */
let server: Server;
let port: number;
const connectionsSeen: Socket[] = [];
const binary = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0xe2, 0x82, 0xac, 0xff, 0x00, 0xc3]);

function answer(socket: Socket, path: string): void {
  switch (path) {
    case "/length":
      socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/x-npy\r\nContent-Length: ${binary.length}\r\n\r\n`), binary]));
      break;
    case "/split":
      // The head and body arrive in pieces that cut a UTF-8 sequence (e2 82 ac) in two.
      socket.write("HTTP/1.1 200 OK\r\nContent-Le");
      setTimeout(() => socket.write(Buffer.concat([Buffer.from(`ngth: ${binary.length}\r\n\r\n`), binary.subarray(0, 5)])), 10);
      setTimeout(() => socket.write(binary.subarray(5)), 20);
      break;
    case "/chunked":
      socket.write("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
      break;
    case "/close":
      socket.end("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
      break;
    case "/silent":
      break;
    case "/drop":
      socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
      break;
    default:
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  }
}

before(async () => {
  server = createServer((socket) => {
    connectionsSeen.push(socket);
    let pending = "";
    socket.on("data", (chunk: Buffer) => {
      pending += chunk.toString("latin1");
      let end: number;
      while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
        const path = pending.slice(0, end).split(" ")[1] ?? "/";
        pending = pending.slice(end + 4);
        answer(socket, path);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => {
  for (const socket of connectionsSeen) socket.destroy();
  server.close();
});

function connection(path: string, timeoutMs = 2_000): KeepAliveConnection {
  return new KeepAliveConnection("127.0.0.1", port, encodeRequest({ method: "GET", path, host: `127.0.0.1:${port}` }), timeoutMs);
}

describe("the load generator's keep-alive connection", () => {
  test("a Content-Length body comes back byte for byte, over one connection for several requests", async () => {
    const before = connectionsSeen.length;
    const client = connection("/length");
    for (let i = 0; i < 3; i++) {
      const answer = await client.send();
      assert.equal(answer.status, 200);
      assert.equal(answer.contentType, "application/x-npy");
      assert.deepEqual(answer.body, binary);
    }
    client.close();
    assert.equal(connectionsSeen.length - before, 1);
  });

  test("a head and body split across packets, through a UTF-8 sequence, arrive intact", async () => {
    const client = connection("/split");
    assert.deepEqual((await client.send()).body, binary);
    client.close();
  });

  test("a chunked body is reassembled", async () => {
    const client = connection("/chunked");
    const answer = await client.send();
    assert.equal(answer.status, 201);
    assert.equal(answer.body.toString(), "hello world");
    client.close();
  });

  test("after Connection: close the next request opens a new connection and succeeds", async () => {
    const before = connectionsSeen.length;
    const client = connection("/close");
    for (let i = 0; i < 3; i++) assert.equal((await client.send()).body.toString(), "ok");
    client.close();
    assert.equal(connectionsSeen.length - before, 3);
  });

  test("no answer within the time limit is a RequestTimeoutError", async () => {
    const client = connection("/silent", 100);
    await assert.rejects(client.send(), RequestTimeoutError);
  });

  test("an abandoned request rejects as abandoned, and abandoning an idle connection leaves it usable", async () => {
    const silent = connection("/silent", 5_000);
    const pending = silent.send();
    silent.abandon();
    await assert.rejects(pending, RequestAbandonedError);
    const client = new KeepAliveConnection("127.0.0.1", port, encodeRequest({ method: "GET", path: "/length", host: "h" }), 2_000);
    client.abandon();
    assert.deepEqual((await client.send()).body, binary);
    client.close();
  });

  test("a connection closed in the middle of a body is an error, not an answer", async () => {
    const client = connection("/drop");
    await assert.rejects(client.send(), /closed the connection before answering/);
  });

  test("encodeRequest writes the method, the headers and the body with its length", () => {
    const bytes = encodeRequest({ method: "POST", path: "/invocations", host: "h:1", headers: { "content-type": "application/json" }, body: Buffer.from("{}") });
    assert.equal(bytes.toString(), "POST /invocations HTTP/1.1\r\nhost: h:1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}");
  });
});
