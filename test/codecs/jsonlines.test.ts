import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jsonLinesCodec } from "../../src/codecs/jsonlines.js";
import { BadRequestError, InferenceError } from "../../src/errors.js";
import { assertFails, decodeWith, encodeWith } from "./helpers.js";

describe("decoding application/jsonlines", () => {
  test("gives the value of every non-blank line, CRLF and a final newline tolerated", async () => {
    const body = '{"features": [1, 2]}\r\n\r\n[3, 4]\n"text"\n7\n';
    assert.deepEqual(await decodeWith(jsonLinesCodec, body), [{ features: [1, 2] }, [3, 4], "text", 7]);
  });

  test("is registered under application/jsonlines, application/x-jsonlines and application/jsonl", async () => {
    assert.deepEqual(jsonLinesCodec.mediaTypes, ["application/jsonlines", "application/x-jsonlines", "application/jsonl"]);
    assert.deepEqual(await decodeWith(jsonLinesCodec, "1\n2", "Application/JSONL; charset=utf-8"), [1, 2]);
  });

  test("rejects a bad line with a 400 naming its line number", async () => {
    await assertFails(() => decodeWith(jsonLinesCodec, '{"a": 1}\n\n{"a": }\n'), BadRequestError, 400, /^Invalid JSON Lines body: line 3: /);
  });

  test("refuses a number too large for a 64-bit float with a 400 naming line and column", async () => {
    await assertFails(
      () => decodeWith(jsonLinesCodec, '[1, 2]\n  [3, 1e400]\n'),
      BadRequestError,
      400,
      "Invalid JSON Lines body: line 2 column 7: the number 1e400 is out of range for a 64-bit float (numbers must be finite)",
    );
    await assertFails(() => decodeWith(jsonLinesCodec, `1\n"1e400"\n[-${"9".repeat(400)}]`), BadRequestError, 400, /^Invalid JSON Lines body: line 3 column 2: the number -9{39}\.\.\. is out of range/);
    assert.deepEqual(await decodeWith(jsonLinesCodec, '"1e400"\n1e-400\n'), ["1e400", 0]);
  });

  test("does not accept a JSON value spread over several lines", async () => {
    await assertFails(() => decodeWith(jsonLinesCodec, "[1,\n2]"), BadRequestError, 400, "Invalid JSON Lines body: line 1: ");
  });

  test("rejects an empty or blank body with a 400", async () => {
    await assertFails(() => decodeWith(jsonLinesCodec, "\n \n"), BadRequestError, 400, "Empty request body");
  });
});

describe("encoding application/jsonlines", () => {
  test("writes each item of an array on its own line", async () => {
    assert.equal(await encodeWith(jsonLinesCodec, [{ label: "cat" }, { label: "dog" }]), '{"label":"cat"}\n{"label":"dog"}\n');
  });

  test("writes each row of an NDArray along its first dimension as a nested array", async () => {
    const batch = { dtype: "float32", shape: [2, 2, 1], data: new Float32Array([0.1, 0.2, 0.3, 0.4]) };
    assert.equal(await encodeWith(jsonLinesCodec, batch), "[[0.1],[0.2]]\n[[0.3],[0.4]]\n");
    assert.equal(await encodeWith(jsonLinesCodec, new BigInt64Array([1n, 2n ** 62n])), '1\n"4611686018427387904"\n');
  });

  test("writes any other value, a record of outputs or a scalar NDArray as one line", async () => {
    const outputs = { label: { dtype: "int64", shape: [1], data: new BigInt64Array([2n]) } };
    assert.equal(await encodeWith(jsonLinesCodec, outputs), '{"label":[2]}\n');
    assert.equal(await encodeWith(jsonLinesCodec, { dtype: "bool", shape: [], data: new Uint8Array([1]) }), "true\n");
    assert.equal(await encodeWith(jsonLinesCodec, "done"), '"done"\n');
    assert.equal(await encodeWith(jsonLinesCodec, undefined), "null\n");
  });

  test("writes an empty array as an empty body", async () => {
    assert.equal(await encodeWith(jsonLinesCodec, []), "");
  });

  test("reports an inconsistent NDArray as a handler bug (500)", async () => {
    await assertFails(() => encodeWith(jsonLinesCodec, { dtype: "int8", shape: [3], data: new Int8Array(2) }), InferenceError, 500, "holds 3 elements but data has 2");
  });
});
