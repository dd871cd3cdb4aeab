import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { decodeNpy, encodeNpy, npyCodec } from "../../src/codecs/npy.js";
import { BadRequestError, InferenceError, NotAcceptableError } from "../../src/errors.js";
import type { DType, NDArray } from "../../src/tensor/ndarray.js";
import { assertFails, decodeWith, encodeWith } from "./helpers.js";

const FIXTURES = new URL("../fixtures/npy/", import.meta.url);

interface FixtureArray {
  readonly file: string;
  readonly dtype: DType;
  readonly shape: number[];
  readonly data: (number | string)[];
  readonly sameBytesOnEncode: boolean;
}
interface Manifest {
  readonly numpy: string;
  readonly arrays: FixtureArray[];
  readonly rejected: { readonly file: string; readonly message: string }[];
}

const manifest = JSON.parse(readFileSync(new URL("manifest.json", FIXTURES), "utf8")) as Manifest;
const fixture = (file: string): Buffer => readFileSync(new URL(file, FIXTURES));

/** The manifest's element spelling, for comparison with decoded storage. */
function storedValue(value: number | bigint): number | string {
  if (typeof value === "bigint") return value.toString();
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  return value;
}

/** A .npy file with `header` as its dict text, padded as NumPy pads, followed by `data`. */
function npyFile(header: string, data: Uint8Array = new Uint8Array(), version = 1): Buffer {
  const prefixLength = version === 1 ? 10 : 12;
  const padded = header + " ".repeat(63 - ((prefixLength + header.length) % 64)) + "\n";
  const prefix = Buffer.alloc(prefixLength);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) prefix.writeUInt16LE(padded.length, 8);
  else prefix.writeUInt32LE(padded.length, 8);
  return Buffer.concat([prefix, Buffer.from(padded, version === 3 ? "utf8" : "latin1"), data]);
}

function headerLengthOf(file: Uint8Array): { prefixLength: number; headerLength: number } {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  return file[6] === 1
    ? { prefixLength: 10, headerLength: view.getUint16(8, true) }
    : { prefixLength: 12, headerLength: view.getUint32(8, true) };
}

/** The values 0..n-1 of a row-major array of `shape`, laid out in Fortran order (first index fastest). */
function fortranOrder(shape: readonly number[]): Int32Array {
  const count = shape.reduce((product, dim) => product * dim, 1);
  const data = new Int32Array(count);
  for (let rowMajor = 0; rowMajor < count; rowMajor++) {
    let rest = rowMajor;
    let offset = 0;
    let stride = 1;
    const index = new Array<number>(shape.length);
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis] = rest % (shape[axis] as number);
      rest = Math.floor(rest / (shape[axis] as number));
    }
    for (let axis = 0; axis < shape.length; axis++) {
      offset += (index[axis] as number) * stride;
      stride *= shape[axis] as number;
    }
    data[offset] = rowMajor;
  }
  return data;
}

function bytesOfInt32(data: Int32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function bytesOf(array: NDArray): Buffer {
  const data = array.data as ArrayBufferView;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

describe("application/x-npy against files written by NumPy", () => {
  test(`the fixtures come from NumPy ${manifest.numpy} and cover every numeric dtype`, () => {
    const dtypes = new Set(manifest.arrays.map((entry) => entry.dtype));
    for (const dtype of ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"]) {
      assert.ok(dtypes.has(dtype as DType), `no fixture for ${dtype}`);
    }
  });

  for (const entry of manifest.arrays) {
    test(`decodes ${entry.file} to its dtype, shape and row-major values`, () => {
      const array = decodeNpy(fixture(entry.file));
      assert.equal(array.dtype, entry.dtype);
      assert.deepEqual(array.shape, entry.shape);
      const values = Array.from(array.data as ArrayLike<number | bigint>, storedValue);
      assert.deepEqual(values, entry.data);
    });
  }

  for (const entry of manifest.arrays.filter((item) => item.sameBytesOnEncode)) {
    test(`re-encoding ${entry.file} reproduces NumPy's bytes exactly`, () => {
      const original = fixture(entry.file);
      const encoded = encodeNpy(decodeNpy(original));
      assert.equal(encoded.toString("latin1", 0, 128), original.toString("latin1", 0, 128));
      assert.ok(encoded.equals(original), "the data bytes differ");
    });
  }

  for (const { file, message } of manifest.rejected) {
    test(`rejects ${file} with a 400 naming the problem`, async () => {
      await assertFails(() => decodeNpy(fixture(file)), BadRequestError, 400, message);
    });
  }

  test("reads Fortran-ordered data into row-major order", () => {
    const array = decodeNpy(fixture("int32-fortran-2x3x4.npy"));
    assert.deepEqual(array.shape, [2, 3, 4]);
    assert.deepEqual(Array.from(array.data as Int32Array), Array.from({ length: 24 }, (_, index) => index));
  });

  test("reads Fortran order with size-1 axes anywhere in the shape, as row-major as NumPy's C order", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 7 }), (shape) => {
        const count = shape.reduce((product, dim) => product * dim, 1);
        const file = npyFile(`{'descr': '<i4', 'fortran_order': True, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`, bytesOfInt32(fortranOrder(shape)));
        assert.deepEqual(Array.from(decodeNpy(file).data as Int32Array), Array.from({ length: count }, (_, index) => index));
      }),
    );
  });

  test("byte-swaps big-endian data into a copy", () => {
    const body = fixture("float32-big-endian-2x2.npy");
    const array = decodeNpy(body);
    assert.deepEqual(Array.from(array.data as Float32Array), [1.5, -2.25, 1e10, Math.fround(0.1)]);
    assert.notEqual((array.data as Float32Array).buffer, body.buffer);
  });
});

describe("decoding without copying", () => {
  test("returns a view on the request body when the data offset is aligned", () => {
    const body = fixture("float32-2x3.npy");
    const data = decodeNpy(body).data as Float32Array;
    assert.equal(data.buffer, body.buffer);
    assert.equal(data.byteOffset, body.byteOffset + 128);
  });

  test("copies when the body starts at an offset the element size does not divide", () => {
    const original = fixture("float64-special.npy");
    const shifted = new Uint8Array(original.length + 3).subarray(3);
    shifted.set(original);
    const data = decodeNpy(shifted).data as Float64Array;
    assert.notEqual(data.buffer, shifted.buffer);
    assert.deepEqual(Buffer.from(data.buffer, data.byteOffset, data.byteLength), original.subarray(128));
  });

  test("normalises bool bytes other than 0 and 1", () => {
    const array = decodeNpy(npyFile("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", new Uint8Array([0, 2, 1])));
    assert.deepEqual(Array.from(array.data as Uint8Array), [0, 1, 1]);
  });
});

describe("the .npy header", () => {
  test("is NumPy's dict, padded with spaces and a newline so the data starts at 128", () => {
    const file = encodeNpy({ dtype: "float32", shape: [2, 3], data: new Float32Array(6) });
    const header = file.toString("latin1", 10, 128);
    assert.equal(file.toString("latin1", 0, 8), "\x93NUMPY\x01\x00");
    assert.equal(file.readUInt16LE(8), 118);
    assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} +\n$/);
    assert.equal(file.length, 128 + 24);
  });

  test("writes shapes as Python tuples: () for a scalar and (n,) for one dimension", () => {
    const scalar = encodeNpy({ dtype: "float64", shape: [], data: new Float64Array([1]) });
    const vector = encodeNpy({ dtype: "uint8", shape: [5], data: new Uint8Array(5) });
    assert.ok(scalar.toString("latin1").includes("'shape': (), }"));
    assert.ok(vector.toString("latin1").includes("'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"));
  });

  test("refuses to encode more than 64 dimensions, which NumPy cannot read, with a 406", async () => {
    const shape = new Array<number>(65).fill(1);
    await assertFails(() => encodeNpy({ dtype: "int16", shape, data: new Int16Array([-7]) }), NotAcceptableError, 406, "at most 64 dimensions");
    const sixtyFour = encodeNpy({ dtype: "int16", shape: shape.slice(1), data: new Int16Array([-7]) });
    assert.equal(sixtyFour[6], 1);
    assert.deepEqual(decodeNpy(sixtyFour).shape, shape.slice(1));
  });

  test("is read in any spacing and quoting Python allows, and with older 16-byte alignment", () => {
    const compact = npyFile('{"descr":"<i2","fortran_order":False,"shape":(2,)}', new Uint8Array([1, 0, 2, 0]));
    assert.deepEqual(Array.from(decodeNpy(compact).data as Int16Array), [1, 2]);

    const spaced = npyFile("{ 'shape' : ( 1 , 2 , ) ,\n 'fortran_order' : False , 'descr' : '<i2' }", new Uint8Array([3, 0, 4, 0]));
    assert.deepEqual(decodeNpy(spaced).shape, [1, 2]);

    const dict = "{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }";
    const header = dict + " ".repeat(15 - ((10 + dict.length) % 16)) + "\n";
    const aligned16 = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0]), Buffer.from(header), Buffer.from([9, 0])]);
    assert.deepEqual(Array.from(decodeNpy(aligned16).data as Uint16Array), [9]);
  });

  test("is read in formats 2.0 and 3.0, the latter as UTF-8", () => {
    const data = new Uint8Array([1, 0, 0, 0]);
    assert.deepEqual(decodeNpy(npyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", data, 2)).shape, [1]);
    assert.deepEqual(decodeNpy(npyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", data, 3)).shape, [1]);
  });
});

describe("hostile or broken .npy bodies", () => {
  const valid = fixture("float32-2x3.npy");
  const dict = (entries: string) => npyFile(`{${entries}}`, new Uint8Array(24));
  const cases: [string, () => Uint8Array, string | RegExp][] = [
    ["an empty body", () => Buffer.alloc(0), "Empty request body"],
    ["a body without the magic string", () => Buffer.from("hello, world"), "does not start with the magic string \\x93NUMPY"],
    ["a Python pickle", () => Buffer.from([0x80, 0x04, 0x95, 0x00]), "pickles and object arrays are not supported"],
    ["an .npz archive", () => Buffer.from("PK\x03\x04rest"), "zip archive"],
    ["a truncated magic string", () => valid.subarray(0, 4), "truncated: 4 bytes hold no complete magic string"],
    ["a missing header length", () => valid.subarray(0, 9), "truncated: 9 bytes hold no header length"],
    ["format version 4.0", () => Buffer.concat([valid.subarray(0, 6), Buffer.from([4, 0]), valid.subarray(8)]), "format version 4.0 is not supported"],
    ["a truncated header", () => valid.subarray(0, 50), "truncated header: it declares 118 bytes but 40 follow"],
    ["data shorter than the shape needs", () => valid.subarray(0, valid.length - 4), "shape (2, 3) of float32 needs 24 data bytes but the body has 20"],
    ["data longer than the shape needs", () => Buffer.concat([valid, Buffer.alloc(4)]), "needs 24 data bytes but the body has 28"],
    ["a header that is Python code", () => npyFile("__import__('os').system('echo owned')"), "malformed header at character 0: expected '{'"],
    ["a header without a shape", () => dict("'descr': '<f4', 'fortran_order': False"), "header needs 'shape'"],
    ["a header with an unknown key", () => dict("'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1"), "unexpected keys: extra"],
    ["a key given twice", () => dict("'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (6,)"), "key 'descr' appears twice"],
    ["a shape that is not a tuple", () => dict("'descr': '<f4', 'fortran_order': False, 'shape': (6)"), "(6) is not a tuple"],
    ["a negative dimension", () => dict("'descr': '<f4', 'fortran_order': False, 'shape': (-6,)"), "shape dimension -6 is negative"],
    ["an unterminated tuple", () => dict("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3"), /malformed header at character \d+: expected '\)'/],
    ["fortran_order that is not a bool", () => dict("'descr': '<f4', 'fortran_order': 0, 'shape': (6,)"), "needs 'fortran_order', True or False"],
    ["an object dtype", () => dict("'descr': '|O', 'fortran_order': False, 'shape': (3,)"), "object arrays are not supported"],
    ["a structured dtype", () => dict("'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,)"), "structured dtypes"],
    ["a string dtype", () => dict("'descr': '<U5', 'fortran_order': False, 'shape': (1,)"), 'dtype "<U5" is not supported'],
    ["a dtype without byte order", () => dict("'descr': 'f4', 'fortran_order': False, 'shape': (6,)"), 'dtype "f4" is not supported'],
    ["a header over numpy.load's 10,000 bytes", () => npyFile(`{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }${" ".repeat(10_000)}`, new Uint8Array(24), 2), "numpy.load reads at most 10000"],
    ["a shape of more than 64 dimensions", () => dict(`'descr': '<f4', 'fortran_order': True, 'shape': (2, 3${", 1".repeat(65)})`), "the shape has 67 dimensions; NumPy arrays have at most 64"],
    ["a format 3.0 header that is not UTF-8", () => npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4), 3).fill(0xff, 100, 101), "not valid UTF-8"],
  ];
  for (const [name, body, message] of cases) {
    test(`rejects ${name} with a 400`, async () => {
      await assertFails(() => decodeWith(npyCodec, Buffer.from(body())), BadRequestError, 400, message);
    });
  }
});

describe("encoding predictions as .npy", () => {
  const array: NDArray = { dtype: "float32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };

  test("unwraps a record with exactly one output", async () => {
    assert.deepEqual(Buffer.from(await encodeWith(npyCodec, { probabilities: array })), encodeNpy(array));
  });

  test("writes nested number arrays as float64 and typed arrays with their dtype", async () => {
    const nested = decodeNpy(Buffer.from(await encodeWith(npyCodec, [[1, 2, 3], [4, 5, 6]])));
    assert.equal(nested.dtype, "float64");
    assert.deepEqual(nested.shape, [2, 3]);
    const typed = decodeNpy(Buffer.from(await encodeWith(npyCodec, new Int32Array([7, -8]))));
    assert.deepEqual(typed, { dtype: "int32", shape: [2], data: new Int32Array([7, -8]) });
  });

  test("writes the elements of a typed array that is a window on a larger buffer", () => {
    const window = new Float64Array([9, 1.5, 2.5, 9]).subarray(1, 3);
    const decoded = decodeNpy(encodeNpy({ dtype: "float64", shape: [2], data: window }));
    assert.deepEqual(Array.from(decoded.data as Float64Array), [1.5, 2.5]);
  });

  test("refuses a record of several outputs with a 406 naming them", async () => {
    await assertFails(
      () => encodeWith(npyCodec, { label: array, probabilities: array }),
      NotAcceptableError,
      406,
      "application/x-npy holds one array; the prediction has outputs label, probabilities",
    );
  });

  test("refuses string tensors, ragged arrays and non-numeric values with a 406", async () => {
    await assertFails(() => encodeWith(npyCodec, { dtype: "string", shape: [1], data: ["a"] }), NotAcceptableError, 406, "cannot hold string tensors");
    await assertFails(() => encodeWith(npyCodec, [[1, 2], [3]]), NotAcceptableError, 406, "needs a rectangular array");
    await assertFails(() => encodeWith(npyCodec, [["a"]]), NotAcceptableError, 406, "needs numbers in nested arrays; the prediction holds a string");
    await assertFails(() => encodeWith(npyCodec, "text"), NotAcceptableError, 406, "the prediction is a string");
    await assertFails(() => encodeWith(npyCodec, new Map()), NotAcceptableError, 406, "the prediction is a Map");
  });

  test("treats an NDArray whose data does not match its shape as a handler bug (500)", async () => {
    await assertFails(
      () => encodeWith(npyCodec, { dtype: "float32", shape: [2, 3], data: new Float32Array(5) }),
      InferenceError,
      500,
      "shape [2, 3] holds 6 elements but data has 5",
    );
  });
});

describe(".npy properties", () => {
  const DTYPE_SIZES = { float16: 2, float32: 4, float64: 8, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8, bool: 1 } as const;
  const STORAGE = {
    float16: Uint16Array, float32: Float32Array, float64: Float64Array, int8: Int8Array, int16: Int16Array, int32: Int32Array,
    int64: BigInt64Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array, bool: Uint8Array,
  } as const;
  type NumericDType = keyof typeof DTYPE_SIZES;

  /** Random arrays of every numeric dtype, with random bytes as data (NaN payloads included). */
  const arrays = fc
    .record({
      dtype: fc.constantFrom(...(Object.keys(DTYPE_SIZES) as NumericDType[])),
      shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
    })
    .chain(({ dtype, shape }) => {
      const length = shape.reduce((product, dim) => product * dim, 1) * DTYPE_SIZES[dtype];
      return fc.uint8Array({ minLength: length, maxLength: length }).map((bytes): NDArray => {
        const data = dtype === "bool" ? bytes.map((byte) => byte & 1) : bytes;
        return { dtype, shape, data: new STORAGE[dtype](data.buffer, 0, data.length / DTYPE_SIZES[dtype]) };
      });
    });

  test("decode(encode(x)) gives back x: same dtype, shape and bytes", () => {
    fc.assert(
      fc.property(arrays, (array) => {
        const decoded = decodeNpy(encodeNpy(array));
        assert.equal(decoded.dtype, array.dtype);
        assert.deepEqual(decoded.shape, array.shape);
        assert.deepEqual(bytesOf(decoded), bytesOf(array));
      }),
    );
  });

  test("the header ends in a newline on a 64-byte boundary, where the data starts", () => {
    fc.assert(
      fc.property(arrays, (array) => {
        const file = encodeNpy(array);
        const { prefixLength, headerLength } = headerLengthOf(file);
        assert.equal(file[6], 1);
        assert.equal((prefixLength + headerLength) % 64, 0);
        assert.equal(file[prefixLength + headerLength - 1], 0x0a);
        assert.equal(file.length - prefixLength - headerLength, bytesOf(array).length);
      }),
    );
  });

  test("decoding gives the same values wherever the body starts in memory", () => {
    fc.assert(
      fc.property(arrays, fc.integer({ min: 0, max: 7 }), (array, offset) => {
        const file = encodeNpy(array);
        const placed = new Uint8Array(file.length + offset).subarray(offset);
        placed.set(file);
        assert.deepEqual(bytesOf(decodeNpy(placed)), bytesOf(array));
      }),
    );
  });
});
