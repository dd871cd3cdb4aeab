import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { countRecordIO, decodeRecordIO, encodeRecordIO, isRecordIOFramed, RecordIOError, RecordIOReader } from "../../src/batch/recordio.js";
import { recordIOCodec } from "../../src/codecs/recordio.js";
import { BadRequestError, NotAcceptableError } from "../../src/errors.js";
import { assertFails, decodeWith, encodeWith } from "../codecs/helpers.js";

const magic = [0x0a, 0x23, 0xd7, 0xce];

describe("RecordIO framing (MXNet's format)", () => {
  test("frames a record as magic, little-endian length, data and zero padding to 4 bytes", () => {
    assert.deepEqual([...encodeRecordIO([Buffer.from("abc")])], [...magic, 3, 0, 0, 0, 0x61, 0x62, 0x63, 0]);
    assert.deepEqual([...encodeRecordIO([Buffer.from("abcd")])], [...magic, 4, 0, 0, 0, 0x61, 0x62, 0x63, 0x64]);
    assert.deepEqual([...encodeRecordIO([Buffer.alloc(0)])], [...magic, 0, 0, 0, 0]);
  });

  test("cuts a record at an aligned magic word into first, middle and last parts, and reads it back whole", () => {
    const data = Buffer.from([1, 2, 3, 4, ...magic, 5, 6, 7, 8, ...magic, 9]);
    const framed = encodeRecordIO([data]);
    const flags = [4, 16, 28].map((offset) => framed.readUInt32LE(offset) >>> 29);
    assert.deepEqual(flags, [1, 2, 3]);
    assert.deepEqual(
      decodeRecordIO(framed).map((record) => [...record.data]),
      [[...data]],
    );
    assert.equal(countRecordIO(framed), 1);
  });

  test("leaves a magic word that is not 4-byte aligned inside the data", () => {
    const data = Buffer.from([1, ...magic, 2]);
    const framed = encodeRecordIO([data]);
    assert.equal(framed.readUInt32LE(4) >>> 29, 0);
    assert.deepEqual([...(decodeRecordIO(framed)[0]?.data ?? [])], [...data]);
  });

  test("keeps each record's framed bytes, padding included", () => {
    const framed = encodeRecordIO([Buffer.from("a"), Buffer.from("bcdef")]);
    const records = decodeRecordIO(framed);
    assert.deepEqual(
      records.map((record) => record.data.toString()),
      ["a", "bcdef"],
    );
    assert.deepEqual(
      records.map((record) => record.framed.length),
      [12, 16],
    );
    assert.deepEqual(Buffer.concat(records.map((record) => record.framed)), framed);
  });

  test("reads records that arrive cut at any byte", () => {
    const items = ["first", "", "third record", "x".repeat(1000)].map((text) => Buffer.from(text));
    const stream = encodeRecordIO([...items, Buffer.from([...magic, 1, 2, 3, 4])]);
    for (const chunkSize of [1, 3, 7, 64, stream.length]) {
      const reader = new RecordIOReader();
      const read: string[] = [];
      for (let offset = 0; offset < stream.length; offset += chunkSize) for (const record of reader.push(stream.subarray(offset, offset + chunkSize))) read.push(record.data.toString("latin1"));
      reader.end();
      assert.deepEqual(read, [...items.map((item) => item.toString("latin1")), Buffer.from([...magic, 1, 2, 3, 4]).toString("latin1")], `chunks of ${chunkSize}`);
    }
  });

  test("refuses a stream without the magic number, naming the offset", () => {
    const framed = encodeRecordIO([Buffer.from("abcd")]);
    const broken = Buffer.concat([framed, Buffer.from("not recordio")]);
    assert.throws(() => decodeRecordIO(broken), (error: unknown) => error instanceof RecordIOError && /byte 12 holds 0x20746f6e/.test(error.message));
    assert.throws(() => new RecordIOReader().push(Buffer.from("nope")), RecordIOError);
  });

  test("refuses a truncated stream and parts out of order", () => {
    const framed = encodeRecordIO([Buffer.from("abcdefgh")]);
    assert.throws(() => decodeRecordIO(framed.subarray(0, framed.length - 2)), /truncated: the record at byte 0 is incomplete/);
    assert.throws(() => countRecordIO(framed.subarray(0, 6)), /truncated/);
    assert.throws(() => countRecordIO(framed.subarray(0, 10)), /truncated/);
    const middleFirst = Buffer.from(framed);
    middleFirst.writeUInt32LE(((2 << 29) | 8) >>> 0, 4);
    assert.throws(() => decodeRecordIO(middleFirst), /part at byte 0 has flag 2 where a whole record or a first part/);
    const unfinished = Buffer.from(framed);
    unfinished.writeUInt32LE(((1 << 29) | 8) >>> 0, 4);
    assert.throws(() => countRecordIO(unfinished), /ends inside a record split in parts/);
    assert.throws(() => decodeRecordIO(unfinished), /truncated/);
  });

  test("tells framed bodies from bare ones by the magic number", () => {
    assert.equal(isRecordIOFramed(encodeRecordIO([Buffer.from("a")])), true);
    assert.equal(isRecordIOFramed(Buffer.from("a,b")), false);
    assert.equal(isRecordIOFramed(Buffer.alloc(2)), false);
  });

  test("cannot frame a record of 2^29 bytes or more", () => {
    assert.throws(() => encodeRecordIO([new Uint8Array(2 ** 29)]), RangeError);
  });
});

describe("the application/x-recordio codec", () => {
  test("decodes a framed body into one Buffer per record", async () => {
    const records = (await decodeWith(recordIOCodec, encodeRecordIO([Buffer.from("a"), Buffer.from("bc")]))) as Buffer[];
    assert.deepEqual(
      records.map((record) => record.toString()),
      ["a", "bc"],
    );
  });

  test("decodes a bare body (a SingleRecord request, framing stripped) as one record", async () => {
    assert.deepEqual(await decodeWith(recordIOCodec, "5.1,3.5"), [Buffer.from("5.1,3.5")]);
  });

  test("answers 400 for an empty body and for broken framing", async () => {
    await assertFails(() => decodeWith(recordIOCodec, ""), BadRequestError, 400, "Empty request body");
    const broken = encodeRecordIO([Buffer.from("abcdefgh")]).subarray(0, 10);
    await assertFails(() => decodeWith(recordIOCodec, broken), BadRequestError, 400, /^Invalid application\/x-recordio body: RecordIO stream is truncated/);
  });

  test("encodes each item of an array, or each row of an NDArray, as a record", async () => {
    const encoded = Buffer.from(await encodeWith(recordIOCodec, [Buffer.from("raw"), "text", { label: 1 }]));
    assert.deepEqual(
      decodeRecordIO(encoded).map((record) => record.data.toString()),
      ["raw", "text", '{"label":1}'],
    );
    const rows = Buffer.from(await encodeWith(recordIOCodec, { probabilities: { dtype: "float32", shape: [2, 2], data: new Float32Array([0.25, 0.75, 0.5, 0.5]) } }));
    assert.deepEqual(
      decodeRecordIO(rows).map((record) => record.data.toString()),
      ["[0.25,0.75]", "[0.5,0.5]"],
    );
  });

  test("answers 406 for a value that is not a sequence", async () => {
    await assertFails(() => encodeWith(recordIOCodec, 7), NotAcceptableError, 406, /holds a sequence of records/);
  });
});
