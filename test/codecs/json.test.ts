import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { jsonCodec } from "../../src/codecs/json.js";
import { BadRequestError, InferenceError, NotAcceptableError } from "../../src/errors.js";
import { float16Bits } from "../../src/tensor/float16.js";
import type { NDArray } from "../../src/tensor/ndarray.js";
import { assertFails, decodeWith, encodeWith } from "./helpers.js";

const encodeJson = async (value: unknown): Promise<string> => {
  const body = await encodeWith(jsonCodec, value);
  assert.equal(typeof body, "string");
  return body as string;
};
const predictionsOf = async (value: unknown): Promise<unknown> =>
  (JSON.parse(await encodeJson(value)) as { predictions: unknown }).predictions;

describe("decoding application/json", () => {
  test('gives the "instances" array and drops other keys such as "parameters"', async () => {
    assert.deepEqual(await decodeWith(jsonCodec, '{"instances": [[5.1, 3.5], [4.9, 3.0]]}'), [[5.1, 3.5], [4.9, 3]]);
    assert.deepEqual(await decodeWith(jsonCodec, '{"instances": [1], "parameters": {"topK": 3}}'), [1]);
  });

  test('gives the "inputs" value, an array or a record of named inputs', async () => {
    assert.deepEqual(await decodeWith(jsonCodec, '{"inputs": [[1, 2]]}'), [[1, 2]]);
    assert.deepEqual(await decodeWith(jsonCodec, '{"inputs": {"ids": [1, 2], "mask": [1, 1]}}'), { ids: [1, 2], mask: [1, 1] });
  });

  test("gives a bare array, any other object and a scalar as parsed", async () => {
    assert.deepEqual(await decodeWith(jsonCodec, "[[1, 2], [3, 4]]"), [[1, 2], [3, 4]]);
    assert.deepEqual(await decodeWith(jsonCodec, '{"text": "hello"}'), { text: "hello" });
    assert.equal(await decodeWith(jsonCodec, "42"), 42);
  });

  test("ignores Content-Type parameters and a UTF-8 byte order mark", async () => {
    assert.deepEqual(await decodeWith(jsonCodec, '\uFEFF{"instances": [1]}', "Application/JSON; charset=utf-8"), [1]);
  });

  test("rejects malformed JSON with a 400 naming the position", async () => {
    await assertFails(() => decodeWith(jsonCodec, '{"instances": [1 2]}'), BadRequestError, 400, /^Invalid JSON body: .* at position 17 \(line 1 column 18\)$/);
    await assertFails(() => decodeWith(jsonCodec, '{"instances": [1, 2'), BadRequestError, 400, /^Invalid JSON body: .* at position 19/);
  });

  test("rejects an unexpected token with a 400 naming it and its surroundings", async () => {
    await assertFails(() => decodeWith(jsonCodec, '{"instances": [1, 2,]}'), BadRequestError, 400, /^Invalid JSON body: Unexpected token '\]', .*"s": \[1, 2,\]\}" is not valid JSON$/);
  });

  test("refuses a number too large for a 64-bit float with a 400 naming it and its position, rather than reading Infinity", async () => {
    await assertFails(
      () => decodeWith(jsonCodec, '{"instances": [[1,\n 1e400]]}'),
      BadRequestError,
      400,
      "Invalid JSON body: the number 1e400 is out of range for a 64-bit float (numbers must be finite) at position 20 (line 2 column 2)",
    );
    await assertFails(() => decodeWith(jsonCodec, '{"x": "1e400", "y": {"z": [-1E+999]}}'), BadRequestError, 400, "the number -1E+999 is out of range for a 64-bit float (numbers must be finite) at position 27");
    await assertFails(() => decodeWith(jsonCodec, `[1${"0".repeat(400)}]`), BadRequestError, 400, /the number 10{39}\.\.\. is out of range .* at position 1 /);
    await assertFails(() => decodeWith(jsonCodec, "-1e309"), BadRequestError, 400, "the number -1e309 is out of range");
  });

  test("reads the largest and smallest float64 values, and escaped quotes before a number", async () => {
    assert.deepEqual(await decodeWith(jsonCodec, '[1.7976931348623157e308, 5e-324, 1e-400, "a\\"1e400", -0]'), [Number.MAX_VALUE, 5e-324, 0, 'a"1e400', -0]);
  });

  test("reads nesting of any depth (a million levels), as JSON.parse does", async () => {
    const levels = 1_000_000;
    let value = await decodeWith(jsonCodec, `${"[".repeat(levels)}7${"]".repeat(levels)}`);
    for (let depth = 0; depth < levels; depth++) value = (value as unknown[])[0];
    assert.equal(value, 7);
  });

  test("rejects an empty or blank body with a 400", async () => {
    await assertFails(() => decodeWith(jsonCodec, ""), BadRequestError, 400, "Empty request body");
    await assertFails(() => decodeWith(jsonCodec, " \r\n"), BadRequestError, 400, "Empty request body");
  });

  test('rejects "instances" that is not an array, or given with "inputs"', async () => {
    await assertFails(() => decodeWith(jsonCodec, '{"instances": 5}'), BadRequestError, 400, '"instances" must be an array');
    await assertFails(() => decodeWith(jsonCodec, '{"instances": [], "inputs": []}'), BadRequestError, 400, 'both "instances" and "inputs"');
  });
});

describe("encoding application/json", () => {
  test('wraps the prediction in {"predictions": ...} with NDArrays as nested arrays of their shape', async () => {
    const probabilities: NDArray = { dtype: "float32", shape: [2, 3], data: new Float32Array([0.1, 0.2, 0.7, 0.25, 0.5, 0.25]) };
    assert.equal(await encodeJson(probabilities), '{"predictions":[[0.1,0.2,0.7],[0.25,0.5,0.25]]}');
  });

  test("turns a record of NDArrays into a record of nested arrays", async () => {
    const prediction = {
      label: { dtype: "int64", shape: [2], data: new BigInt64Array([2n, 0n]) },
      scores: { dtype: "float64", shape: [2, 1], data: new Float64Array([0.5, 1.5]) },
    };
    assert.deepEqual(await predictionsOf(prediction), { label: [2, 0], scores: [[0.5], [1.5]] });
  });

  test("gives a scalar for shape [] and empty arrays for a zero dimension", async () => {
    assert.equal(await predictionsOf({ dtype: "float64", shape: [], data: new Float64Array([2.5]) }), 2.5);
    assert.deepEqual(await predictionsOf({ dtype: "int32", shape: [2, 0], data: new Int32Array() }), [[], []]);
  });

  test("writes int64 and uint64 as numbers when safe and as decimal strings otherwise", async () => {
    const int64: NDArray = { dtype: "int64", shape: [4], data: new BigInt64Array([-(2n ** 63n), 2n ** 53n - 1n, 2n ** 53n, -5n]) };
    const uint64: NDArray = { dtype: "uint64", shape: [2], data: new BigUint64Array([2n ** 64n - 1n, 7n]) };
    assert.deepEqual(await predictionsOf(int64), ["-9223372036854775808", 9007199254740991, "9007199254740992", -5]);
    assert.deepEqual(await predictionsOf(uint64), ["18446744073709551615", 7]);
    assert.deepEqual(await predictionsOf({ count: 3n }), { count: 3 });
  });

  test("writes float16 as numbers, bool as true/false and string tensors as strings", async () => {
    assert.deepEqual(await predictionsOf({ dtype: "float16", shape: [4], data: new Uint16Array([0x3c00, 0x2e66, 0x0001, 0xfc00]) }), [1, 0.1, 6e-8, null]);
    assert.deepEqual(await predictionsOf({ dtype: "bool", shape: [2], data: new Uint8Array([1, 0]) }), [true, false]);
    assert.deepEqual(await predictionsOf({ dtype: "string", shape: [1, 2], data: ["cat", "dog"] }), [["cat", "dog"]]);
  });

  test("writes typed arrays as arrays and a Buffer as {b64}", async () => {
    assert.deepEqual(await predictionsOf({ ids: new BigInt64Array([1n, 2n ** 60n]), mask: new Uint8Array([1, 0]) }), {
      ids: [1, "1152921504606846976"],
      mask: [1, 0],
    });
    assert.deepEqual(await predictionsOf(Buffer.from([0xff, 0x00, 0x10])), { b64: "/wAQ" });
  });

  const Float16 = (globalThis as { Float16Array?: new (values: number[]) => ArrayBufferView }).Float16Array;
  test("writes Node 24's Float16Array and a Uint8ClampedArray as arrays of numbers", { skip: Float16 === undefined && "no Float16Array before Node 24" }, async () => {
    assert.deepEqual(await predictionsOf(new (Float16 as NonNullable<typeof Float16>)([0.1, -2])), [0.1, -2]);
    assert.deepEqual(await predictionsOf(new Uint8ClampedArray([0, 255])), [0, 255]);
  });

  test("writes NaN and Infinity as null, as JSON.stringify does, and undefined as null", async () => {
    assert.deepEqual(await predictionsOf([NaN, Infinity, -Infinity, 1]), [null, null, null, 1]);
    assert.deepEqual(await predictionsOf({ dtype: "float32", shape: [1], data: new Float32Array([NaN]) }), [null]);
    assert.equal(await encodeJson(undefined), '{"predictions":null}');
  });

  test("keeps plain values and leaves class instances to JSON.stringify", async () => {
    assert.deepEqual(await predictionsOf([{ label: "cat", score: 0.9 }]), [{ label: "cat", score: 0.9 }]);
    assert.equal(await predictionsOf(new Date(0)), "1970-01-01T00:00:00.000Z");
  });

  test("refuses a DataView with a 406", async () => {
    await assertFails(() => encodeJson(new DataView(new ArrayBuffer(4))), NotAcceptableError, 406, "cannot hold a DataView");
  });

  test("reports a circular prediction or an inconsistent NDArray as a handler bug (500)", async () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    await assertFails(() => encodeJson(circular), InferenceError, 500, "circular reference");
    await assertFails(
      () => encodeJson({ dtype: "float32", shape: [3], data: new Float64Array(3) }),
      InferenceError,
      500,
      "a float32 NDArray needs a Float32Array as data",
    );
  });

  test("allows the same object twice when it is not its own ancestor", async () => {
    const shared = [1, 2];
    assert.deepEqual(await predictionsOf({ a: shared, b: shared }), { a: [1, 2], b: [1, 2] });
  });
});

describe("shortest float digits", () => {
  test("every float32 is written with digits that read back as the same float32, at most 9 of them", async () => {
    await fc.assert(
      fc.asyncProperty(fc.float({ noNaN: true, noDefaultInfinity: true }), async (value) => {
        const [written] = (await predictionsOf({ dtype: "float32", shape: [1], data: new Float32Array([value]) })) as number[];
        // === rather than Object.is: JSON has no -0, JSON.stringify writes it as 0.
        assert.ok(Math.fround(written as number) === value, `${written} does not read back as ${value}`);
        const significantDigits = (written as number).toExponential().replace(/^-|e.*$|\./g, "");
        assert.ok(significantDigits.length <= 9, `${written} has more than 9 significant digits`);
      }),
    );
  });

  test("every finite float16 is written with digits that read back as the same half", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffff }).filter((bits) => (bits & 0x7c00) !== 0x7c00), async (bits) => {
        const [written] = (await predictionsOf({ dtype: "float16", shape: [1], data: new Uint16Array([bits]) })) as number[];
        assert.equal(float16Bits(written as number), bits);
      }),
    );
  });
});
