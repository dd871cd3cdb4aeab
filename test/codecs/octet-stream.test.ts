import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { octetStreamCodec } from "../../src/codecs/octet-stream.js";
import { InferenceError, NotAcceptableError } from "../../src/errors.js";
import { assertFails, decodeWith, encodeWith } from "./helpers.js";

const encodeBytes = async (value: unknown): Promise<Buffer> => {
  const body = await encodeWith(octetStreamCodec, value);
  assert.ok(body instanceof Uint8Array, "the body is not bytes");
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
};

describe("application/octet-stream", () => {
  test("decodes to the very Buffer it was given", async () => {
    const body = Buffer.from([0x00, 0xff, 0x10]);
    assert.equal(await decodeWith(octetStreamCodec, body), body);
  });

  test("sends a Buffer, a Uint8Array and an ArrayBuffer as they are", async () => {
    const buffer = Buffer.from([1, 2, 3]);
    assert.equal(await encodeWith(octetStreamCodec, buffer), buffer);
    const bytes = new Uint8Array([4, 5]);
    assert.equal(await encodeWith(octetStreamCodec, bytes), bytes);
    assert.deepEqual(await encodeBytes(new Uint8Array([6, 7]).buffer), Buffer.from([6, 7]));
  });

  test("sends other typed arrays as little-endian element bytes", async () => {
    assert.deepEqual(await encodeBytes(new Float32Array([1])), Buffer.from([0x00, 0x00, 0x80, 0x3f]));
    assert.deepEqual(await encodeBytes(new Int16Array([-2, 258])), Buffer.from([0xfe, 0xff, 0x02, 0x01]));
    assert.deepEqual(await encodeBytes(new BigUint64Array([1n])), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
  });

  test("sends only the window a typed array sees on its buffer", async () => {
    assert.deepEqual(await encodeBytes(new Uint16Array([0xffff, 0x0102, 0xffff]).subarray(1, 2)), Buffer.from([0x02, 0x01]));
  });

  test("sends a numeric NDArray's data, also from a one-output record, row-major with no header", async () => {
    const mask = { dtype: "bool", shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) };
    assert.deepEqual(await encodeBytes(mask), Buffer.from([1, 0, 0, 1]));
    const half = { dtype: "float16", shape: [1], data: new Uint16Array([0x3c00]) };
    assert.deepEqual(await encodeBytes({ output: half }), Buffer.from([0x00, 0x3c]));
  });

  test("sends a string as UTF-8", async () => {
    assert.deepEqual(await encodeBytes("héllo"), Buffer.from("68c3a96c6c6f", "hex"));
  });

  test("refuses string tensors, plain objects, numbers and several outputs with a 406", async () => {
    await assertFails(() => encodeBytes({ dtype: "string", shape: [1], data: ["a"] }), NotAcceptableError, 406, "cannot hold string tensors");
    await assertFails(() => encodeBytes([1, 2]), NotAcceptableError, 406, "application/octet-stream holds bytes: return a Buffer, a typed array, a numeric NDArray or a string, not an Array");
    await assertFails(() => encodeBytes(5), NotAcceptableError, 406, "not a number");
    await assertFails(() => encodeBytes(new DataView(new ArrayBuffer(2))), NotAcceptableError, 406, "not a DataView");
    await assertFails(() => encodeBytes(null), NotAcceptableError, 406, "not null");
    await assertFails(() => encodeBytes({ a: Buffer.alloc(1), b: Buffer.alloc(1) }), NotAcceptableError, 406, "the prediction has outputs a, b");
  });

  test("reports an inconsistent NDArray as a handler bug (500)", async () => {
    await assertFails(() => encodeBytes({ dtype: "uint16", shape: [2], data: new Uint8Array(4) }), InferenceError, 500, "a uint16 NDArray needs a Uint16Array as data");
  });
});
