import { BadRequestError, NotAcceptableError } from "../errors.js";
import { elementCount, isNDArray, storageConstructors } from "../tensor/ndarray.js";
import type { NDArray } from "../tensor/ndarray.js";
import { bytesOf, hostIsLittleEndian, swapByteOrder } from "./byte-order.js";
import type { Codec } from "./codec.js";
import {
  checkNDArray,
  describeValue,
  flattenPrediction,
  singleOutput,
  typedArrayToNDArray,
} from "./ndarray-convert.js";
import type { NumericDType, NumericStorage } from "../tensor/ndarray.js";

// The format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// Byte-exact with numpy/lib/_format_impl.py (NumPy 2.x): `_write_array_header` and `_wrap_header`.
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ALIGNMENT = 64;
/** NumPy leaves room after the dict for the growth axis to reach 21 digits (`GROWTH_AXIS_MAX_DIGITS`). */
const GROWTH_AXIS_MAX_DIGITS = 21;
/**
 * NumPy's own bounds (README.md, "Content types"): `numpy.load` reads headers of at most 10,000
 * bytes (`max_header_size`) and NumPy 2 arrays have at most 64 dimensions (`NPY_MAXDIMS`). A
 * header past them cannot come from `numpy.save`, and an unbounded shape would make every step
 * that walks the axes cost the body size again.
 */
const MAX_HEADER_LENGTH = 10_000;
const MAX_DIMENSIONS = 64;

/** Type codes (NumPy's `dtype.str` without the byte-order character) of the supported dtypes. */
const typeCodes: Readonly<Record<NumericDType, string>> = {
  float16: "f2",
  float32: "f4",
  float64: "f8",
  int8: "i1",
  int16: "i2",
  int32: "i4",
  int64: "i8",
  uint8: "u1",
  uint16: "u2",
  uint32: "u4",
  uint64: "u8",
  bool: "b1",
};
const dtypesByCode: ReadonlyMap<string, NumericDType> = new Map(
  Object.entries(typeCodes).map(([dtype, code]) => [code, dtype as NumericDType]),
);
const SUPPORTED_DESCRS = Object.values(typeCodes)
  .map((code) => (code.endsWith("1") ? `|${code}` : `<${code}`))
  .join(", ");

/**
 * `application/x-npy`: one NumPy array in the `.npy` format (versions 1.0, 2.0 and 3.0), the
 * binary form SageMaker's own containers accept. See {@link decodeNpy} and {@link encodeNpy}.
 *
 * Encoding takes an NDArray, a typed array, a record holding exactly one of those (a one-output
 * ONNX model's result), or nested arrays of numbers (written as `float64`). Several outputs or
 * `string` tensors are a 406.
 *
 * @example
 * ```ts
 * const array = npyCodec.decode!(body, { mediaType }) as NDArray; // body from numpy.save
 * const bytes = npyCodec.encode!({ scores: array }, { mediaType }); // what numpy.save writes
 * ```
 */
export const npyCodec: Codec = {
  mediaTypes: ["application/x-npy"],
  decode: (body) => decodeNpy(body),
  encode: (value) => encodeNpy(toNDArray(singleOutput(value, "application/x-npy holds one array"))),
};

function toNDArray(prediction: unknown): NDArray {
  if (isNDArray(prediction)) return prediction;
  if (ArrayBuffer.isView(prediction)) {
    const array = typedArrayToNDArray(prediction);
    if (array !== undefined) return array;
  }
  if (typeof prediction === "number" || Array.isArray(prediction)) {
    const { shape, elements } = flattenPrediction(prediction, "application/x-npy");
    const data = new Float64Array(elements.length);
    elements.forEach((element, index) => {
      if (typeof element !== "number") {
        throw new NotAcceptableError(`application/x-npy needs numbers in nested arrays; the prediction holds ${describeValue(element)}`);
      }
      data[index] = element;
    });
    return { dtype: "float64", shape, data };
  }
  throw new NotAcceptableError(`application/x-npy holds one numeric array; the prediction is ${describeValue(prediction)}`);
}

/**
 * Writes `array` as a `.npy` file, byte for byte what NumPy 2.x's `numpy.save` writes for a
 * C-ordered array: format 1.0, the header padded with spaces and a newline so the data starts at a
 * multiple of 64 bytes, the data in the host's byte order (little-endian on every platform but
 * s390x, as NumPy does). (NumPy writes format 2.0 only for headers over 65535 bytes, which no
 * array of at most 64 dimensions of a numeric dtype reaches.)
 *
 * @throws NotAcceptableError for a `string` array or one of more than 64 dimensions, which have no
 * `.npy` form NumPy reads.
 * @throws InferenceError (500) for an inconsistent NDArray (data length not matching the shape).
 * @example
 * ```ts
 * encodeNpy({ dtype: "float32", shape: [2, 3], data: new Float32Array(6) });
 * // header "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" padded to 128 bytes, then 24 data bytes
 * ```
 */
export function encodeNpy(array: NDArray): Buffer {
  checkNDArray(array);
  if (array.dtype === "string") {
    throw new NotAcceptableError("application/x-npy cannot hold string tensors; use application/json");
  }
  if (array.shape.length > MAX_DIMENSIONS) {
    throw new NotAcceptableError(`application/x-npy holds at most ${MAX_DIMENSIONS} dimensions (NumPy's limit); the prediction has ${array.shape.length}`);
  }
  const code = typeCodes[array.dtype];
  const order = code.endsWith("1") ? "|" : hostIsLittleEndian ? "<" : ">";
  const { shape } = array;
  let dict = `{'descr': '${order}${code}', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  if (shape.length > 0) dict += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));

  // The header field is the dict, padding spaces and "\n"; it ends on a 64-byte boundary.
  const prefixLength = MAGIC.length + 2 + 2;
  const headerLength = dict.length + 1 + ALIGNMENT - ((prefixLength + dict.length + 1) % ALIGNMENT);
  const data = bytesOf(array.data as NumericStorage);
  const file = Buffer.allocUnsafe(prefixLength + headerLength + data.length);
  file.set(MAGIC, 0);
  file[6] = 1;
  file[7] = 0;
  file.writeUInt16LE(headerLength, 8);
  file.write(dict, prefixLength, "latin1");
  file.fill(0x20, prefixLength + dict.length, prefixLength + headerLength - 1);
  file[prefixLength + headerLength - 1] = 0x0a;
  file.set(data, prefixLength + headerLength);
  return file;
}

/**
 * Reads a `.npy` file (format 1.0, 2.0 or 3.0) into an NDArray, without running anything from
 * the header: it is parsed by a strict reader of the dict literal NumPy writes.
 *
 * Every dtype of {@link NDArray} but `string` is read, little- or big-endian (big-endian data is
 * byte-swapped into a copy), C- or Fortran-ordered (Fortran order is transposed into a row-major
 * copy, in one pass whatever the rank). Otherwise the returned data is a view on `bytes`, not a copy, when the data offset is
 * aligned for the element size (it always is in files NumPy writes, when `bytes` itself starts
 * aligned); `bool` bytes other than 0 and 1 are normalised in a copy.
 *
 * @throws BadRequestError naming the problem: bad magic string, unsupported version, truncated
 * header, a header over 10,000 bytes or a shape over 64 dimensions (NumPy's own limits), malformed
 * header, unsupported dtype (object arrays, strings, structured dtypes...), or
 * data whose length does not match the shape.
 * @example
 * ```ts
 * const array = decodeNpy(readFileSync("batch.npy")); // { dtype: "float32", shape: [2, 3], data: Float32Array(6) }
 * ```
 */
export function decodeNpy(bytes: Uint8Array): NDArray {
  if (bytes.length === 0) throw new BadRequestError("Empty request body", { code: "EMPTY_BODY" });
  checkMagic(bytes);
  if (bytes.length < MAGIC.length + 2) throw invalid(`truncated: ${bytes.length} bytes hold no format version`);
  const major = bytes[6] as number;
  const minor = bytes[7] as number;
  if (minor !== 0 || major < 1 || major > 3) {
    throw invalid(`format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`);
  }
  const lengthSize = major === 1 ? 2 : 4;
  const headerStart = MAGIC.length + 2 + lengthSize;
  if (bytes.length < headerStart) throw invalid(`truncated: ${bytes.length} bytes hold no header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLength > MAX_HEADER_LENGTH) {
    throw invalid(`the header is ${headerLength} bytes; numpy.load reads at most ${MAX_HEADER_LENGTH} (max_header_size)`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) {
    throw invalid(`truncated header: it declares ${headerLength} bytes but ${bytes.length - headerStart} follow`);
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const header = parseHeader(decodeHeaderText(headerBytes, major === 3));

  const dtype = dtypeOf(header.descr);
  const elementSize = storageConstructors[dtype].BYTES_PER_ELEMENT;
  const count = elementCount(header.shape);
  const dataLength = bytes.length - dataStart;
  if (dataLength !== count * elementSize) {
    throw invalid(
      `shape ${formatShape(header.shape)} of ${dtype} needs ${count * elementSize} data bytes but the body has ${dataLength}`,
    );
  }

  let data = readStorage(bytes.subarray(dataStart), dtype, count, header.descr.startsWith(">"));
  if (dtype === "bool") data = normaliseBools(data as Uint8Array);
  if (header.fortranOrder) data = fortranToRowMajor(data, dtype, header.shape);
  return { dtype, shape: header.shape, data };
}

function invalid(problem: string): BadRequestError {
  return new BadRequestError(`Invalid .npy body: ${problem}`, { code: "INVALID_NPY" });
}

function checkMagic(bytes: Uint8Array): void {
  const present = Math.min(bytes.length, MAGIC.length);
  if (MAGIC.slice(0, present).every((byte, index) => bytes[index] === byte)) {
    if (present < MAGIC.length) throw invalid(`truncated: ${bytes.length} bytes hold no complete magic string`);
    return;
  }
  if (bytes[0] === 0x80) {
    throw invalid("it is a Python pickle; pickles and object arrays are not supported, send numpy.save output of a numeric array");
  }
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    throw invalid("it is a zip archive (an .npz?); send one array written by numpy.save");
  }
  throw invalid("it does not start with the magic string \\x93NUMPY");
}

function decodeHeaderText(headerBytes: Uint8Array, utf8: boolean): string {
  if (!utf8) return Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString("latin1");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch (error) {
    throw new BadRequestError("Invalid .npy body: the format 3.0 header is not valid UTF-8", { code: "INVALID_NPY", cause: error });
  }
}

function dtypeOf(descr: string): NumericDType {
  const match = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr);
  if (match?.[2] === "O") throw invalid("object arrays are not supported; send an array of a numeric dtype");
  const order = match?.[1];
  const code = `${match?.[2]}${match?.[3]}`;
  const dtype = dtypesByCode.get(code);
  if (dtype === undefined || (order !== "<" && order !== ">" && !(order === "|" && code.endsWith("1")))) {
    throw invalid(`dtype ${JSON.stringify(descr)} is not supported; supported: ${SUPPORTED_DESCRS} (and big-endian '>')`);
  }
  return dtype;
}

function readStorage(data: Uint8Array, dtype: NumericDType, count: number, bigEndian: boolean): NumericStorage {
  const Storage = storageConstructors[dtype];
  const elementSize = Storage.BYTES_PER_ELEMENT;
  if (elementSize > 1 && bigEndian === hostIsLittleEndian) {
    return new Storage(swapByteOrder(data, elementSize).buffer, 0, count);
  }
  if (data.byteOffset % elementSize === 0) return new Storage(data.buffer, data.byteOffset, count);
  return new Storage(new Uint8Array(data).buffer, 0, count);
}

function normaliseBools(data: Uint8Array): Uint8Array {
  return data.every((byte) => byte <= 1) ? data : data.map((byte) => (byte === 0 ? 0 : 1));
}

/**
 * Fortran order varies the first index fastest; NDArray is row-major (the last index fastest).
 * Axes of size 1 do not change the layout and are dropped first, so the cost is one read and one
 * write per element plus an odometer step per row, whatever the declared rank.
 */
function fortranToRowMajor(data: NumericStorage, dtype: NumericDType, shape: readonly number[]): NumericStorage {
  const dims = shape.filter((dim) => dim > 1);
  if (dims.length < 2) return data;
  const rowMajor = new storageConstructors[dtype](data.length);
  const source = data as Indexable;
  const target = rowMajor as Indexable;
  const fortranStrides: number[] = [];
  let stride = 1;
  for (const dim of dims) {
    fortranStrides.push(stride);
    stride *= dim;
  }
  // The innermost row-major axis is the outermost Fortran one: a strided walk through the source.
  const last = dims.length - 1;
  const rowLength = dims[last] as number;
  const rowStride = fortranStrides[last] as number;
  const index = new Array<number>(last).fill(0);
  let rowStart = 0;
  for (let targetOffset = 0; targetOffset < data.length; ) {
    for (let column = 0, sourceOffset = rowStart; column < rowLength; column++, sourceOffset += rowStride) {
      target[targetOffset++] = source[sourceOffset] as number | bigint;
    }
    // Advance the row index over the other axes like an odometer, keeping the source offset in step.
    for (let axis = last - 1; axis >= 0; axis--) {
      const next = (index[axis] as number) + 1;
      const axisStride = fortranStrides[axis] as number;
      if (next < (dims[axis] as number)) {
        index[axis] = next;
        rowStart += axisStride;
        break;
      }
      rowStart -= axisStride * (next - 1);
      index[axis] = 0;
    }
  }
  return rowMajor;
}

type Indexable = { [index: number]: number | bigint };

/** A shape as Python writes a tuple: `()`, `(3,)`, `(2, 3)`. */
function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

interface NpyHeader {
  readonly descr: string;
  readonly fortranOrder: boolean;
  readonly shape: number[];
}

type HeaderValue = string | boolean | number | { readonly tuple: number[] };

const MAX_SHOWN_HEADER = 120;

/**
 * A strict reader for the header dict NumPy writes, e.g.
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`: string keys; string, True/False,
 * integer and integer-tuple values; Python's optional trailing commas. Nothing is evaluated.
 */
function parseHeader(text: string): NpyHeader {
  let position = 0;
  const fail = (problem: string): never => {
    const shown = text.length > MAX_SHOWN_HEADER ? `${text.slice(0, MAX_SHOWN_HEADER)}...` : text;
    throw invalid(`malformed header at character ${position}: ${problem}; header: ${JSON.stringify(shown.trimEnd())}`);
  };
  const skipWhitespace = () => {
    while (position < text.length && " \t\r\n".includes(text[position] as string)) position++;
  };
  const expect = (char: string) => {
    if (text[position] !== char) fail(`expected '${char}'`);
    position++;
  };
  const readString = (): string => {
    const quote = text[position];
    if (quote !== "'" && quote !== '"') return fail("expected a quoted string");
    const end = text.indexOf(quote, position + 1);
    if (end < 0) return fail("unterminated string");
    const value = text.slice(position + 1, end);
    if (/[\\\n]/.test(value)) return fail("escape sequences and line breaks in strings are not supported");
    position = end + 1;
    return value;
  };
  const readInteger = (): number => {
    const digits = /^-?\d+/.exec(text.slice(position, position + 32))?.[0];
    if (digits === undefined) return fail("expected an integer");
    if (digits.startsWith("-")) return fail(`shape dimension ${digits} is negative`);
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) return fail(`shape dimension ${digits} is too large`);
    position += digits.length;
    return value;
  };
  const readTuple = (): { tuple: number[] } => {
    expect("(");
    const items: number[] = [];
    let sawComma = false;
    for (;;) {
      skipWhitespace();
      if (text[position] === ")") break;
      items.push(readInteger());
      skipWhitespace();
      if (text[position] !== ",") break;
      sawComma = true;
      position++;
    }
    expect(")");
    if (items.length === 1 && !sawComma) fail(`(${items[0]}) is not a tuple: a 1-D shape is written (${items[0]},)`);
    return { tuple: items };
  };
  const readValue = (): HeaderValue => {
    const char = text[position];
    if (char === "'" || char === '"') return readString();
    if (char === "(") return readTuple();
    if (char === "[") return fail("structured dtypes (a list descr) are not supported");
    if (text.startsWith("True", position)) {
      position += 4;
      return true;
    }
    if (text.startsWith("False", position)) {
      position += 5;
      return false;
    }
    if (char !== undefined && /[-\d]/.test(char)) return readInteger();
    return fail(char === undefined ? "unexpected end" : `unexpected ${JSON.stringify(char)}`);
  };

  const entries = new Map<string, HeaderValue>();
  skipWhitespace();
  expect("{");
  for (;;) {
    skipWhitespace();
    if (text[position] === "}") break;
    const key = readString();
    if (entries.has(key)) fail(`key '${key}' appears twice`);
    skipWhitespace();
    expect(":");
    skipWhitespace();
    entries.set(key, readValue());
    skipWhitespace();
    if (text[position] !== ",") break;
    position++;
  }
  expect("}");
  skipWhitespace();
  if (position < text.length) fail("unexpected text after the dict");

  const descr = entries.get("descr");
  const fortranOrder = entries.get("fortran_order");
  const shape = entries.get("shape");
  const extra = [...entries.keys()].filter((key) => !["descr", "fortran_order", "shape"].includes(key));
  if (extra.length > 0) throw invalid(`header has unexpected keys: ${extra.join(", ")}`);
  if (typeof descr !== "string") throw invalid("header needs 'descr', a dtype string such as '<f4'");
  if (typeof fortranOrder !== "boolean") throw invalid("header needs 'fortran_order', True or False");
  if (typeof shape !== "object") throw invalid("header needs 'shape', a tuple of integers");
  if (shape.tuple.length > MAX_DIMENSIONS) {
    throw invalid(`the shape has ${shape.tuple.length} dimensions; NumPy arrays have at most ${MAX_DIMENSIONS}`);
  }
  return { descr, fortranOrder, shape: shape.tuple };
}
