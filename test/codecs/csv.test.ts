import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { csvCodec } from "../../src/codecs/csv.js";
import { BadRequestError, InferenceError, NotAcceptableError } from "../../src/errors.js";
import type { NDArray } from "../../src/tensor/ndarray.js";
import { assertFails, decodeWith, encodeWith } from "./helpers.js";

const decodeCsv = (body: string | Buffer) => decodeWith(csvCodec, body);
const encodeCsv = (value: unknown) => encodeWith(csvCodec, value);

describe("decoding text/csv", () => {
  test("gives one number array per line", async () => {
    assert.deepEqual(await decodeCsv("5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3"), [
      [5.1, 3.5, 1.4, 0.2],
      [6.2, 2.9, 4.3, 1.3],
    ]);
  });

  test("tolerates CRLF, a trailing newline, blank lines, spaces, a BOM and Content-Type parameters", async () => {
    const body = "\uFEFF 1, 2 \r\n\r\n3 ,4\r\n\n";
    assert.deepEqual(await decodeWith(csvCodec, body, "Text/CSV; charset=utf-8"), [
      [1, 2],
      [3, 4],
    ]);
  });

  test("reads signs, exponents and leading or trailing dots", async () => {
    const [row] = (await decodeCsv("-1.5e3,+.25,7.,1E-2,1.7976931348623157e308")) as number[][];
    assert.deepEqual(row, [-1500, 0.25, 7, 0.01, Number.MAX_VALUE]);
  });

  test("refuses NumPy's nan/inf spellings with a 400 naming the cell and where to send them", async () => {
    for (const [cell, column] of [["nan", 2], ["inf", 2], ["-Infinity", 2], ["+NaN", 2]] as const) {
      await assertFails(
        () => decodeCsv(`1,2\n3,${cell}`),
        BadRequestError,
        400,
        `text/csv row 2, column ${column}: "${cell}" is not a finite number; text/csv takes finite numbers only (send NaN and infinities as application/x-npy)`,
      );
    }
  });

  test("refuses a number too large for a 64-bit float with a 400, rather than reading Infinity", async () => {
    await assertFails(() => decodeCsv("1e400,1"), BadRequestError, 400, 'text/csv row 1, column 1: "1e400" is out of range for a 64-bit float');
    await assertFails(() => decodeCsv(`1,-${"9".repeat(400)}`), BadRequestError, 400, /row 1, column 2: "-9{39}\.\.\." is out of range/);
  });

  test("reads one column as one-element rows", async () => {
    assert.deepEqual(await decodeCsv("1\n2\n3\n"), [[1], [2], [3]]);
  });

  test("rejects a cell that is not a number with a 400 naming its row and column", async () => {
    await assertFails(() => decodeCsv("1,2\n3,4\n5,abc"), BadRequestError, 400, 'text/csv row 3, column 2: "abc" is not a number');
    await assertFails(() => decodeCsv("1,2\n0x10,4"), BadRequestError, 400, 'row 2, column 1: "0x10" is not a number');
  });

  test("counts rows by line number, blank lines included", async () => {
    await assertFails(() => decodeCsv("1,2\n\n3,x"), BadRequestError, 400, "text/csv row 3, column 2");
  });

  test("rejects a header row with a 400 that says to remove it", async () => {
    await assertFails(
      () => decodeCsv("sepal_length,sepal_width\n5.1,3.5"),
      BadRequestError,
      400,
      'text/csv row 1, column 1: "sepal_length" is not a number (a header row is not supported: remove it',
    );
  });

  test("rejects an empty cell with a 400", async () => {
    await assertFails(() => decodeCsv("1,,3"), BadRequestError, 400, "text/csv row 1, column 2 is empty");
  });

  test("rejects ragged rows with a 400 naming the row", async () => {
    await assertFails(
      () => decodeCsv("1,2,3\n4,5,6\n7,8"),
      BadRequestError,
      400,
      "text/csv row 3 has 2 values but row 1 has 3",
    );
  });

  test("does not echo a huge cell back in full", async () => {
    const error = await Promise.resolve(decodeCsv(`1,${"x".repeat(100_000)}`)).catch((caught: unknown) => caught);
    assert.ok(error instanceof BadRequestError);
    assert.ok(error.message.length < 200, `message of ${error.message.length} characters`);
  });

  test("rejects an empty or blank body with a 400", async () => {
    await assertFails(() => decodeCsv(""), BadRequestError, 400, "Empty request body");
    await assertFails(() => decodeCsv("\r\n\n"), BadRequestError, 400, "Empty request body");
  });
});

describe("encoding text/csv", () => {
  const matrix: NDArray = { dtype: "float32", shape: [2, 3], data: new Float32Array([0.1, 0.2, 0.7, 1, 0, 0]) };

  test("writes a 2-D array as one comma-separated line per row", async () => {
    assert.equal(await encodeCsv(matrix), "0.1,0.2,0.7\n1,0,0\n");
    assert.equal(await encodeCsv([[1, 2], [3, 4]]), "1,2\n3,4\n");
  });

  test("writes a 1-D array as one value per line and a scalar as one line", async () => {
    assert.equal(await encodeCsv({ dtype: "int64", shape: [3], data: new BigInt64Array([0n, 2n, 2n ** 63n - 1n]) }), "0\n2\n9223372036854775807\n");
    assert.equal(await encodeCsv(new Float64Array([0.5, 1.5])), "0.5\n1.5\n");
    assert.equal(await encodeCsv(42), "42\n");
    assert.equal(await encodeCsv({ dtype: "float64", shape: [], data: new Float64Array([0.25]) }), "0.25\n");
  });

  test("unwraps a record with exactly one output", async () => {
    assert.equal(await encodeCsv({ probabilities: matrix }), "0.1,0.2,0.7\n1,0,0\n");
  });

  test("writes booleans as 1/0, non-finite numbers as NumPy does and quotes strings that need it", async () => {
    assert.equal(await encodeCsv({ dtype: "bool", shape: [1, 2], data: new Uint8Array([1, 0]) }), "1,0\n");
    assert.equal(await encodeCsv([[NaN, Infinity, -Infinity]]), "nan,inf,-inf\n");
    assert.equal(await encodeCsv([["setosa", 'say "hi"', "a,b", "two\nlines"]]), 'setosa,"say ""hi""","a,b","two\nlines"\n');
  });

  test("prints every number so that it reads back exactly", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 5 }), async (rows) => {
        const text = (await encodeCsv(rows)) as string;
        assert.deepEqual(await decodeCsv(text), rows.map((row) => row.map((value) => (Object.is(value, -0) ? 0 : value))));
      }),
    );
  });

  test("refuses a record of several outputs with a 406 naming them", async () => {
    await assertFails(
      () => encodeCsv({ label: matrix, probabilities: matrix }),
      NotAcceptableError,
      406,
      "text/csv can hold one 1-D or 2-D tensor; the prediction has outputs label, probabilities",
    );
  });

  test("refuses rank > 2, ragged rows, binary data and objects with a 406", async () => {
    await assertFails(
      () => encodeCsv({ dtype: "uint8", shape: [1, 2, 2], data: new Uint8Array(4) }),
      NotAcceptableError,
      406,
      "text/csv can hold one 1-D or 2-D tensor; the prediction has shape [1, 2, 2]",
    );
    await assertFails(() => encodeCsv([[1, 2], [3]]), NotAcceptableError, 406, "text/csv needs a rectangular array");
    await assertFails(() => encodeCsv(Buffer.from("abc")), NotAcceptableError, 406, "text/csv cannot hold binary data");
    await assertFails(() => encodeCsv([{ a: 1 }]), NotAcceptableError, 406, "the prediction holds an object");
    await assertFails(() => encodeCsv(null), NotAcceptableError, 406, "the prediction holds null");
  });

  test("reports an inconsistent NDArray as a handler bug (500)", async () => {
    await assertFails(() => encodeCsv({ dtype: "int32", shape: [2, 2], data: new Int32Array(3) }), InferenceError, 500, "holds 4 elements but data has 3");
  });
});
