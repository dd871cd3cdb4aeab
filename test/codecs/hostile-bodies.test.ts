import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { RunningServer } from "../../src/server.js";
import { invoke, setosaRow, startTestServer } from "../helpers/server.js";

/** A format 2.0 .npy body (its header may pass 65535 bytes). */
function npyBody(dict: string, data: Uint8Array): Buffer {
  const padded = dict + " ".repeat(63 - ((12 + dict.length) % 64)) + "\n";
  const prefix = Buffer.alloc(12);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
  prefix.writeUInt32LE(padded.length, 8);
  return Buffer.concat([prefix, Buffer.from(padded, "latin1"), data]);
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

describe("hostile bodies over HTTP (iris, one worker)", () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test("1e400 in JSON is a 400 naming the number and its position, not a 200 with null predictions", async () => {
    const response = await invoke(server, '{"instances": [[5.1, 3.5, 1e400, 0.2]]}', { "content-type": "application/json" });
    assert.equal(response.status, 400);
    const error = await errorOf(response);
    assert.equal(error.code, "INVALID_JSON");
    assert.equal(error.message, "Invalid JSON body: the number 1e400 is out of range for a 64-bit float (numbers must be finite) at position 26 (line 1 column 27)");
  });

  test("inf and nan in CSV are a 400 naming the row and column", async () => {
    for (const [body, where, cell] of [["5.1,3.5,inf,0.2", "row 1, column 3", "inf"], ["5.1,3.5,1.4,0.2\nNaN,3,1,0", "row 2, column 1", "NaN"]]) {
      const response = await invoke(server, body as string, { "content-type": "text/csv" });
      assert.equal(response.status, 400);
      assert.match((await errorOf(response)).message, new RegExp(`^text/csv ${where as string}: "${cell as string}" is not a finite number`));
    }
  });

  test("1e400 in JSON Lines is a 400 naming the line", async () => {
    const response = await invoke(server, "[5.1, 3.5, 1.4, 0.2]\n[1e400, 3.5, 1.4, 0.2]\n", { "content-type": "application/jsonlines" });
    assert.equal(response.status, 400);
    assert.match((await errorOf(response)).message, /^Invalid JSON Lines body: line 2 column 2: the number 1e400 is out of range/);
  });

  test("NaN in .npy float data reaches the model: the binary format carries it on purpose", async () => {
    const data = new Float32Array([5.1, 3.5, NaN, 0.2]);
    const body = npyBody("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }", new Uint8Array(data.buffer));
    const response = await invoke(server, body, { "content-type": "application/x-npy" });
    assert.equal(response.status, 200);
  });

  test("the Fortran-order .npy of 2 x n x a hundred thousand size-1 axes is refused at once, and the worker serves the next request", async () => {
    // The attack that held the only worker for 65 s: (2, 1.5M, then 1.4M axes of size 1), 5.8 MB.
    // Here 300,000 axes (a 600 kB header): refused by numpy.load's header limit before any decoding.
    const axes = 300_000;
    const body = npyBody(`{'descr': '|u1', 'fortran_order': True, 'shape': (2, 100000${", 1".repeat(axes)}), }`, new Uint8Array(200_000));
    const started = process.cpuUsage();
    const response = await invoke(server, body, { "content-type": "application/x-npy" });
    assert.equal(response.status, 400);
    assert.match((await errorOf(response)).message, /^Invalid \.npy body: the header is \d+ bytes; numpy\.load reads at most 10000 \(max_header_size\)$/);
    const next = await invoke(server, JSON.stringify([setosaRow]), { "content-type": "application/json" });
    assert.equal(next.status, 200);
    // The whole exchange, both requests and the worker thread's decoding included, costs this
    // process little CPU time: the old transposition alone cost 60,000 times more (elements × axes).
    const used = process.cpuUsage(started);
    assert.ok(used.user + used.system < 2_000_000, `${(used.user + used.system) / 1000} ms of CPU time`);
  });
});
