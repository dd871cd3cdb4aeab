import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MiniBatcher, RecordTooLargeError, type MiniBatch } from "../../src/batch/mini-batch.js";
import { createSplitter, FileTooLargeError, type InputRecord } from "../../src/batch/record-splitter.js";
import { encodeRecordIO } from "../../src/batch/recordio.js";
import type { BatchStrategy, SplitType } from "../../src/batch/job.js";

/** Splits `file` fed in chunks of `chunkSize` bytes. */
function split(splitType: SplitType, file: Buffer | string, chunkSize = 5, maxBytes = Infinity): InputRecord[] {
  const bytes = Buffer.from(file);
  const splitter = createSplitter(splitType, maxBytes);
  const records: InputRecord[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) records.push(...splitter.push(bytes.subarray(offset, offset + chunkSize)));
  records.push(...splitter.end());
  return records;
}

function batches(strategy: BatchStrategy, splitType: SplitType, records: readonly InputRecord[], maxBytes: number, keepInputs = false): MiniBatch[] {
  const batcher = new MiniBatcher({ strategy, maxBytes, splitType, keepInputs });
  const out: MiniBatch[] = [];
  for (const record of records) {
    const batch = batcher.add(record);
    if (batch !== undefined) out.push(batch);
  }
  const last = batcher.flush();
  if (last !== undefined) out.push(last);
  return out;
}

const texts = (records: readonly InputRecord[]): string[] => records.map((record) => record.data.toString());

describe("splitting files into records", () => {
  test("Line: one record per line wherever the chunks cut, CRLF and blank lines dropped, the last line without a newline kept", () => {
    const file = "1,2\r\n\n3,4\n\r\n5,6";
    for (const chunkSize of [1, 2, 5, 100]) assert.deepEqual(texts(split("Line", file, chunkSize)), ["1,2", "3,4", "5,6"], `chunks of ${chunkSize}`);
    assert.deepEqual(texts(split("Line", "")), []);
  });

  test("None: the whole file is one record, and an empty file none", () => {
    assert.deepEqual(texts(split("None", "a\nb\n")), ["a\nb\n"]);
    assert.deepEqual(split("None", ""), []);
  });

  test("None: a file over the payload limit fails as soon as the limit is passed", () => {
    assert.throws(() => split("None", "0123456789", 4, 6), (error: unknown) => error instanceof FileTooLargeError && /larger than MaxPayloadInMB \(6 bytes\) and SplitType is None/.test(error.message));
  });

  test("RecordIO: one record per RecordIO record, with its framed bytes", () => {
    const records = split("RecordIO", encodeRecordIO([Buffer.from("a"), Buffer.from("bcdef")]), 3);
    assert.deepEqual(texts(records), ["a", "bcdef"]);
    assert.deepEqual(
      records.map((record) => record.framed.length),
      [12, 16],
    );
    assert.throws(() => split("RecordIO", encodeRecordIO([Buffer.from("abcdef")]).subarray(0, 10)), /truncated/);
  });
});

describe("grouping records into mini-batches", () => {
  const lines = split("Line", "11\n22\n33\n44\n55\n");

  test("SingleRecord: one record per request, each line ending with a newline", () => {
    const sent = batches("SingleRecord", "Line", lines, 100);
    assert.deepEqual(
      sent.map((batch) => batch.body.toString()),
      ["11\n", "22\n", "33\n", "44\n", "55\n"],
    );
    assert.deepEqual(
      sent.map((batch) => [batch.firstRecord, batch.records]),
      [
        [0, 1],
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 1],
      ],
    );
  });

  test("MultiRecord: as many consecutive records as fit the payload, a batch exactly at the limit included", () => {
    const sent = batches("MultiRecord", "Line", lines, 9);
    assert.deepEqual(
      sent.map((batch) => batch.body.toString()),
      ["11\n22\n33\n", "44\n55\n"],
    );
    assert.deepEqual(
      sent.map((batch) => [batch.firstRecord, batch.records]),
      [
        [0, 3],
        [3, 2],
      ],
    );
    assert.ok(sent.every((batch) => batch.body.length <= 9));
  });

  test("MultiRecord with no limit (MaxPayloadInMB 0) sends all of a file's records at once", () => {
    assert.deepEqual(
      batches("MultiRecord", "Line", lines, Infinity).map((batch) => batch.records),
      [5],
    );
  });

  test("a record over the limit fails, naming it", () => {
    assert.throws(
      () => batches("MultiRecord", "Line", split("Line", "1\n2\n333333\n"), 4),
      (error: unknown) => error instanceof RecordTooLargeError && /Record 3 is 7 bytes, over MaxPayloadInMB \(4 bytes\)/.test(error.message),
    );
  });

  test("RecordIO: MultiRecord keeps each record's framing and padding, SingleRecord sends the bare data", () => {
    const framed = encodeRecordIO([Buffer.from("a"), Buffer.from("bcdef"), Buffer.from("gh")]);
    const records = split("RecordIO", framed);
    const multi = batches("MultiRecord", "RecordIO", records, 28);
    assert.deepEqual(
      multi.map((batch) => batch.body),
      [framed.subarray(0, 28), framed.subarray(28)],
    );
    assert.deepEqual(
      batches("SingleRecord", "RecordIO", records, 28).map((batch) => batch.body.toString()),
      ["a", "bcdef", "gh"],
    );
  });

  test("a whole file goes as it is; a filtered record is sent as filtered; the inputs are kept for a join", () => {
    assert.deepEqual(
      batches("MultiRecord", "None", split("None", "x\ny"), 100).map((batch) => batch.body.toString()),
      ["x\ny"],
    );
    const batcher = new MiniBatcher({ strategy: "MultiRecord", maxBytes: 100, splitType: "Line", keepInputs: true });
    const [record] = split("Line", "id,1,2\n");
    batcher.add(record as InputRecord, Buffer.from("1,2"));
    const batch = batcher.flush();
    assert.equal(batch?.body.toString(), "1,2\n");
    assert.deepEqual(batch?.inputs.map((input) => input.toString()), ["id,1,2"]);
    assert.equal(batcher.flush(), undefined);
  });
});
