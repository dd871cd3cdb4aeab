/**
 * The JSON codec's fast paths give exactly what the general path gives, or step aside.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonCodec, toJsonValue } from "../../src/codecs/json.js";
import { decodeNumericJson, encodeNumericJson } from "../../src/codecs/json-tensor.js";
import type { NDArray } from "../../src/tensor/ndarray.js";

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** Numbers spelled as clients spell them: integers, fixed and exponent forms, 17-digit doubles, -0, huge and tiny exponents. */
function numberText(next: () => number): string {
  const value = (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
  switch (Math.floor(next() * 9)) {
    case 0: return String(Math.floor(next() * 100_000));
    case 1: return value.toExponential(Math.floor(next() * 20));
    case 2: return value.toFixed(Math.floor(next() * 20));
    case 3: return String(value);
    case 4: return next() < 0.5 ? "-0" : "0.0";
    case 5: return String(Math.fround(value));
    case 6: return `${Math.floor(next() * 9) + 1}E${next() < 0.5 ? "+" : "-"}${Math.floor(next() * 330)}`;
    case 7: return "123456789012345678901234567890.5e-10";
    default: return (next() * 100).toPrecision(1 + Math.floor(next() * 21));
  }
}

function flatNumbers(text: string): number[] | undefined {
  try {
    const parsed = JSON.parse(text.replace(/^\uFEFF/, "")) as unknown;
    const array = Array.isArray(parsed) ? parsed : (parsed as { instances?: unknown; inputs?: unknown }).instances ?? (parsed as { inputs?: unknown }).inputs;
    const flat = (array as unknown[]).flat(16) as number[];
    return flat.every(Number.isFinite) ? flat : undefined;
  } catch {
    return undefined;
  }
}

test("a rectangular array of numbers decodes to a float64 NDArray of exactly JSON.parse's numbers, bare or wrapped (3,000 seeded bodies)", () => {
  const next = random(11);
  for (let trial = 0; trial < 3_000; trial++) {
    const rank = 1 + Math.floor(next() * 3);
    const shape = Array.from({ length: rank }, () => 1 + Math.floor(next() * 4));
    const build = (axis: number): string => (axis === rank ? numberText(next) : `[${Array.from({ length: shape[axis] as number }, () => build(axis + 1)).join(next() < 0.3 ? " ,\n " : ",")}]`);
    let text = build(0);
    const wrapping = next();
    if (wrapping < 0.3) text = `{ "instances" : ${text} }`;
    else if (wrapping < 0.5) text = `\uFEFF{"inputs":${text}}\r\n`;
    const expected = flatNumbers(text);
    const decoded = decodeNumericJson(Buffer.from(text));
    if (expected === undefined) {
      assert.equal(decoded, undefined, `a body with a number out of range steps aside: ${text}`);
      continue;
    }
    assert.ok(decoded !== undefined, `decoded ${text}`);
    assert.equal(decoded.dtype, "float64");
    assert.deepEqual(decoded.shape, shape, text);
    expected.forEach((value, index) => assert.ok(Object.is((decoded.data as Float64Array)[index], value), `element ${index} of ${text}`));
  }
});

test("read into float32, a rectangular array of numbers holds exactly what a Float32Array of JSON.parse's numbers holds (1,000 seeded bodies)", () => {
  const next = random(17);
  for (let trial = 0; trial < 1_000; trial++) {
    const shape = [1 + Math.floor(next() * 4), 1 + Math.floor(next() * 4)];
    const text = `[${Array.from({ length: shape[0] as number }, () => `[${Array.from({ length: shape[1] as number }, () => numberText(next)).join(",")}]`).join(",")}]`;
    const expected = flatNumbers(text);
    const decoded = decodeNumericJson(Buffer.from(text), "float32");
    if (expected === undefined) {
      assert.equal(decoded, undefined, text);
      continue;
    }
    assert.ok(decoded !== undefined, `decoded ${text}`);
    assert.equal(decoded.dtype, "float32");
    assert.deepEqual(decoded.shape, shape, text);
    assert.deepEqual(decoded.data, Float32Array.from(expected), text);
  }
});

test("a body of 64 KiB or more is read into an array of exactly its numbers, the same values as a small body's path gives", () => {
  const next = random(23);
  for (const [rank, dtype] of [[1, "float64"], [2, "float32"], [3, "float64"]] as const) {
    const finiteNumberText = (): string => {
      for (;;) {
        const candidate = numberText(next);
        if (Number.isFinite(Number(candidate))) return candidate;
      }
    };
    const rows = Array.from({ length: 6_000 }, () => `[${Array.from({ length: 4 }, finiteNumberText).join(", ")}]`);
    const text = rank === 1 ? `[${rows.map((row) => row.slice(1, -1)).join(",")}]` : rank === 2 ? `{"instances": [${rows.join(",\n")}]}` : `[${rows.map((row) => `[${row}]`).join(",")}]`;
    assert.ok(text.length >= 64 * 1024, `the body is ${text.length} bytes`);
    const decoded = decodeNumericJson(Buffer.from(text), dtype);
    const expected = flatNumbers(text);
    assert.ok(decoded !== undefined && expected !== undefined, `rank ${rank}`);
    assert.equal(decoded.data.length, 24_000);
    assert.equal((decoded.data as Float32Array | Float64Array).buffer.byteLength, 24_000 * (dtype === "float32" ? 4 : 8), "no spare room behind the values");
    assert.deepEqual(decoded.data, dtype === "float32" ? Float32Array.from(expected) : Float64Array.from(expected));
  }
});

test("a large body of commas or a ragged one is left to the general path", () => {
  assert.equal(decodeNumericJson(Buffer.from(`[1${",".repeat(200_000)}]`)), undefined);
  assert.equal(decodeNumericJson(Buffer.from(`[${Array.from({ length: 20_000 }, () => "[1,2]").join(",")},[3]]`), "float32"), undefined);
});

test("anything but one rectangular array of finite numbers is left to the general path", () => {
  for (const text of [
    "5",
    "[]",
    "[[]]",
    "[[1, 2], [3]]",
    "[[1, 2], 3]",
    "[1, [2]]",
    '[1, "2"]',
    "[1, true]",
    "[1, null]",
    "[1, 2,]",
    "[01]",
    "[1.]",
    "[.5]",
    "[+1]",
    "[1e]",
    "[1e400]",
    "[-1e400]",
    "[1] x",
    '{"a": [1]}',
    '{"instances": [1], "parameters": {}}',
    '{"instances": 5}',
    '{"in\\u0073tances": [1]}',
    "[1, 2",
    "",
  ]) {
    assert.equal(decodeNumericJson(Buffer.from(text)), undefined, text);
  }
});

test("a numeric prediction encodes to the same text as the general path: each dtype, every shape, records, NaN, ±Infinity and -0", () => {
  const next = random(5);
  const general = (value: unknown): string => JSON.stringify({ predictions: toJsonValue(value) ?? null });
  const specials = [Number.NaN, Infinity, -Infinity, -0, 0, 1e-45, 3.4e38, 0.1, -2.5];
  for (const shape of [[], [0], [3], [2, 0], [2, 3], [2, 1, 4], [1, 2, 2, 2]]) {
    const count = shape.reduce((product, dim) => product * dim, 1);
    const values = Array.from({ length: count }, (_, index) => (index < specials.length && next() < 0.5 ? (specials[index] as number) : (next() - 0.5) * 10 ** Math.floor(next() * 20 - 10)));
    const arrays: NDArray[] = [
      { dtype: "float32", shape, data: new Float32Array(values) },
      { dtype: "float64", shape, data: new Float64Array(values) },
      { dtype: "int32", shape, data: Int32Array.from(values, (value) => (Number.isFinite(value) ? Math.trunc(value) % 1e9 : 7)) },
      { dtype: "uint8", shape, data: Uint8Array.from(values, (value) => (Number.isFinite(value) ? Math.abs(Math.trunc(value)) % 256 : 1)) },
    ];
    for (const array of arrays) assert.equal(String(encodeNumericJson(array)), general(array), `${array.dtype} [${shape.join(", ")}]`);
    const record = { scores: arrays[0], "label \"b\"": arrays[2] };
    assert.equal(String(encodeNumericJson(record)), general(record), `a record of [${shape.join(", ")}]`);
  }
});

test("a large prediction is written as bytes holding the general path's text; a small one as a string", () => {
  const next = random(3);
  const large: NDArray = { dtype: "float32", shape: [3_000, 3], data: Float32Array.from({ length: 9_000 }, () => next()) };
  const encoded = encodeNumericJson(large);
  assert.ok(Buffer.isBuffer(encoded));
  assert.equal(encoded.toString("latin1"), JSON.stringify({ predictions: toJsonValue(large) }));
  assert.equal(typeof encodeNumericJson({ dtype: "float32", shape: [1, 3], data: new Float32Array([0.1, 0.2, 0.3]) }), "string");
});

test("a large prediction's bytes are written into a buffer sized up front: at most an eighth larger than the text", () => {
  const next = random(29);
  const probabilities: NDArray = { dtype: "float32", shape: [100_000, 3], data: Float32Array.from({ length: 300_000 }, () => next() ** 3) };
  const encoded = encodeNumericJson(probabilities);
  assert.ok(Buffer.isBuffer(encoded));
  assert.equal(encoded.toString("latin1"), JSON.stringify({ predictions: toJsonValue(probabilities) }));
  assert.ok(encoded.buffer.byteLength <= encoded.length * 1.125, `${encoded.buffer.byteLength} bytes of buffer for ${encoded.length} of text`);
});

test("a large prediction whose sampled elements are shorter than the rest still gets its whole text", () => {
  const next = random(31);
  // The estimate samples every 100th element: those are 0, the others 9 to 15 characters long.
  const data = Float32Array.from({ length: 6_400 }, (_, index) => (index % 100 === 0 ? 0 : -next() * 1e-20));
  const skewed: NDArray = { dtype: "float32", shape: [6_400], data };
  assert.equal(String(encodeNumericJson(skewed)), JSON.stringify({ predictions: toJsonValue(skewed) }));
});

test("predictions that are not numeric NDArrays are left to the general path, which the codec then takes", () => {
  for (const value of [[1, 2], { dtype: "int64", shape: [1], data: new BigInt64Array([1n]) }, { dtype: "float32", shape: [2], data: new Float32Array(3) }, { dtype: "float32", shape: [1], data: new Float64Array(1) }, {}, { a: [1] }, "text", null]) {
    assert.equal(encodeNumericJson(value), undefined, JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? String(item) : item)));
  }
  assert.equal(jsonCodec.encode!([1, 2], { mediaType: { essence: "application/json", parameters: {} } }), '{"predictions":[1,2]}');
});
