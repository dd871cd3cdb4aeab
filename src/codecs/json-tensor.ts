import { elementCount, storageConstructors, type DType, type NDArray } from "../tensor/ndarray.js";
import { shortestFloat32 } from "./ndarray-convert.js";

/**
 * The JSON codec's fast paths for what most requests and answers of a model are: one rectangular
 * array of numbers. `JSON.parse` turns `[[5.1, 3.5, 1.4, 0.2], ...]` into an array of arrays of
 * numbers, which takes tens of times the body's size in the heap, and printing an answer through
 * nested arrays costs as much again. These read and write the text directly, with exactly the
 * results of the general path; anything else they do not handle (`undefined`), and the caller takes
 * the general path. Internal.
 */

const powersOfTen = Array.from({ length: 23 }, (_, exponent) => 10 ** exponent);
/** Decimal significands up to this many digits are exact in a float64 (< 2^53). */
const maxExactDigits = 15;

/** The element types {@link decodeNumericJson} reads numbers into. */
export type NumericJsonDType = "float32" | "float64";

/**
 * Bodies from this size on have their numbers counted before they are read, so the values go
 * into one array of the right size instead of arrays that double as they fill (which for a
 * multi-megabyte body leave several times its size behind as garbage). Below it that garbage is
 * small, and counting would add a pass over the body to every small request.
 */
const countFromBytes = 64 * 1024;

/**
 * A body that is a rectangular array of finite numbers (rank 1 or more, no empty array), bare or
 * as the only member of `{"instances": ...}` or `{"inputs": ...}`, as an NDArray of `dtype` whose
 * elements are the values `JSON.parse` gives, stored as a typed array of that type stores them
 * (for float32, each number rounded once from its float64 value, as the general path does).
 * `undefined` for anything else, valid or not (named inputs, other members, strings, ragged or
 * empty arrays, syntax errors, numbers out of range for a float64).
 *
 * @example
 * ```ts
 * decodeNumericJson(Buffer.from('{"instances": [[5.1, 3.5], [1.4, 0.2]]}'));
 * // { dtype: "float64", shape: [2, 2], data: Float64Array [5.1, 3.5, 1.4, 0.2] }
 * decodeNumericJson(Buffer.from("[0.1, 0.2]"), "float32");
 * // { dtype: "float32", shape: [2], data: Float32Array [0.1, 0.2] }
 * ```
 */
export function decodeNumericJson(body: Buffer, dtype: NumericJsonDType = "float64"): NDArray | undefined {
  let at = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  at = skipSpace(body, at);
  let wrapped = false;
  if (body[at] === 0x7b /* { */) {
    at = skipSpace(body, at + 1);
    if (body[at] !== 0x22 /* " */) return undefined;
    const keyEnd = body.indexOf(0x22, at + 1);
    const key = keyEnd < 0 ? "" : body.toString("latin1", at + 1, keyEnd);
    if (key !== "instances" && key !== "inputs") return undefined;
    at = skipSpace(body, keyEnd + 1);
    if (body[at] !== 0x3a /* : */) return undefined;
    at = skipSpace(body, at + 1);
    wrapped = true;
  }
  const parsed = readArray(body, at, dtype);
  if (parsed === undefined) return undefined;
  at = skipSpace(body, parsed.end);
  if (wrapped) {
    if (body[at] !== 0x7d /* } */) return undefined;
    at = skipSpace(body, at + 1);
  }
  return at === body.length ? parsed.array : undefined;
}

function skipSpace(body: Buffer, from: number): number {
  let at = from;
  for (let char = body[at]; char === 0x20 || char === 0x0a || char === 0x0d || char === 0x09; char = body[++at]);
  return at;
}

/** A rectangular array of finite numbers starting at `from`, and where it ends; or undefined. */
function readArray(body: Buffer, from: number, dtype: NumericJsonDType): { readonly array: NDArray; readonly end: number } | undefined {
  let at = from;
  let rank = 0;
  while (body[at] === 0x5b /* [ */) {
    rank++;
    at = skipSpace(body, at + 1);
  }
  if (rank === 0) return undefined;
  const shape = new Array<number>(rank).fill(-1);
  const counts = new Array<number>(rank).fill(0);
  const innermost = rank - 1;
  const Storage = dtype === "float32" ? Float32Array : Float64Array;
  // In an array of arrays of numbers, every comma separates two elements of one array, so there
  // is one comma fewer than numbers: for a valid body the count is exact.
  // A hostile body of commas gets no more room than the most numbers its length can hold.
  let values = new Storage(body.length >= countFromBytes ? Math.min(countCommas(body, at) + 1, Math.ceil((body.length - at) / 2)) : Math.min(1024, body.length));
  let size = 0;
  let level = innermost;
  for (;;) {
    // A number, at the innermost level.
    const start = at;
    let char = body[at];
    const negative = char === 0x2d; /* - */
    if (negative) char = body[++at];
    if (char === undefined || char < 0x30 || char > 0x39) return undefined;
    let significand = 0;
    let digits = 0;
    let fractionDigits = 0;
    if (char === 0x30) {
      char = body[++at];
    } else {
      do {
        significand = significand * 10 + (char - 0x30);
        digits++;
        char = body[++at];
      } while (char !== undefined && char >= 0x30 && char <= 0x39);
    }
    if (char === 0x2e /* . */) {
      char = body[++at];
      if (char === undefined || char < 0x30 || char > 0x39) return undefined;
      do {
        significand = significand * 10 + (char - 0x30);
        if (significand !== 0) digits++;
        fractionDigits++;
        char = body[++at];
      } while (char !== undefined && char >= 0x30 && char <= 0x39);
    }
    let exponent = 0;
    if (char === 0x65 || char === 0x45 /* e E */) {
      char = body[++at];
      const exponentNegative = char === 0x2d;
      if (char === 0x2b || char === 0x2d) char = body[++at];
      if (char === undefined || char < 0x30 || char > 0x39) return undefined;
      do {
        if (exponent < 100_000) exponent = exponent * 10 + (char - 0x30);
        char = body[++at];
      } while (char !== undefined && char >= 0x30 && char <= 0x39);
      if (exponentNegative) exponent = -exponent;
    }
    const scale = exponent - fractionDigits;
    let value: number;
    if (digits <= maxExactDigits && scale >= -22 && scale <= 22) {
      // Both operands are exact, so the one rounding gives the correctly rounded result.
      value = scale < 0 ? significand / (powersOfTen[-scale] as number) : significand * (powersOfTen[scale] as number);
      if (negative) value = -value;
    } else {
      value = Number(body.toString("latin1", start, at));
      if (!Number.isFinite(value)) return undefined;
    }
    if (size === values.length) {
      const grown = new Storage(values.length * 2);
      grown.set(values);
      values = grown;
    }
    values[size++] = value;
    counts[level] = (counts[level] as number) + 1;
    // After a value: another at this level, or the end of one or more arrays.
    for (;;) {
      at = skipSpace(body, at);
      char = body[at++];
      if (char === 0x2c /* , */) break;
      if (char !== 0x5d /* ] */) return undefined;
      const count = counts[level] as number;
      if (shape[level] === -1) shape[level] = count;
      else if (shape[level] !== count) return undefined;
      if (--level < 0) return { array: { dtype, shape, data: size === values.length ? values : values.slice(0, size) }, end: at };
      counts[level] = (counts[level] as number) + 1;
    }
    at = skipSpace(body, at);
    // The next value of an outer level is an array, opened down to the innermost level.
    while (level < innermost) {
      if (body[at] !== 0x5b) return undefined;
      counts[++level] = 0;
      at = skipSpace(body, at + 1);
    }
  }
}

function countCommas(body: Buffer, from: number): number {
  let commas = 0;
  for (let at = from; at < body.length; at++) if (body[at] === 0x2c /* , */) commas++;
  return commas;
}

/** Element types whose JSON text {@link encodeNumericJson} writes. */
const writableDTypes = new Set(["float32", "float64", "int8", "int16", "int32", "uint8", "uint16", "uint32"]);

/**
 * `{"predictions": X}` for a prediction that is a numeric NDArray, or a record of them, written
 * straight from the typed data: the same text as `JSON.stringify` of the general path (float32
 * with the fewest digits that read back, NaN and ±Infinity as `null`, -0 as `0`). A string for a
 * small prediction; bytes for a large one, written into one growing buffer, since a string built
 * piece by piece holds a tree of its pieces (hundreds of bytes per row) until it is flattened.
 * `undefined` for anything else.
 *
 * @example
 * ```ts
 * encodeNumericJson({ dtype: "float32", shape: [1, 2], data: new Float32Array([0.25, 0.75]) }); // '{"predictions":[[0.25,0.75]]}'
 * ```
 */
export function encodeNumericJson(prediction: unknown): string | Buffer | undefined {
  let arrays: readonly (readonly [string | undefined, NDArray])[];
  if (isWritable(prediction)) {
    arrays = [[undefined, prediction]];
  } else {
    if (typeof prediction !== "object" || prediction === null || Object.getPrototypeOf(prediction) !== Object.prototype) return undefined;
    const entries = Object.entries(prediction);
    if (entries.length === 0 || !entries.every(([, value]) => isWritable(value))) return undefined;
    arrays = entries as [string, NDArray][];
  }
  const elements = arrays.reduce((sum, [, array]) => sum + array.data.length, 0);
  const out = new TextSink(elements > maxStringElements ? arrays.reduce((sum, [name, array]) => sum + estimatedTextBytes(array) + (name?.length ?? 0) + 8, 32) : undefined);
  out.write('{"predictions":');
  const [only] = arrays;
  if (arrays.length === 1 && only !== undefined && only[0] === undefined) {
    writeArray(out, only[1]);
  } else {
    out.write("{");
    arrays.forEach(([name, array], index) => {
      out.write(`${index === 0 ? "" : ","}${JSON.stringify(name)}:`);
      writeArray(out, array);
    });
    out.write("}");
  }
  out.write("}");
  return out.result();
}

/** Predictions up to this many elements are written as a string (a worker hands short strings over cheaply). */
const maxStringElements = 4096;

/** Elements {@link estimatedTextBytes} formats to estimate the rest. */
const sampledElements = 64;

/**
 * About the bytes `array`'s JSON text takes, a little over: its elements' mean text length, from
 * elements sampled across it, times their count, plus the brackets and commas. Sized from it, the
 * buffer of a large answer is seldom grown, and growing it is what leaves its size behind as
 * garbage several times over.
 */
function estimatedTextBytes(array: NDArray): number {
  const data = array.data as ArrayLike<number>;
  const format = formatterOf(array);
  const stride = Math.max(1, Math.floor(data.length / sampledElements));
  let sampled = 0;
  let sampledBytes = 0;
  for (let index = 0; index < data.length && sampled < sampledElements; index += stride, sampled++) sampledBytes += format(data[index] as number).length;
  const innermost = array.shape[array.shape.length - 1] ?? 1;
  const arrays = innermost === 0 ? 1 : data.length / innermost;
  return Math.ceil(((sampledBytes / Math.max(1, sampled) + 1) * data.length + 3 * arrays) * 1.0625);
}

/** Text written piece by piece, into a string or into a buffer sized up front that grows by half when full. */
class TextSink {
  #text = "";
  #buffer: Buffer | undefined;
  #length = 0;

  /** Without a byte estimate, the text goes into a string. */
  constructor(estimatedBytes: number | undefined) {
    if (estimatedBytes !== undefined) this.#buffer = Buffer.allocUnsafe(estimatedBytes);
  }

  /** Writes ASCII text. */
  write(text: string): void {
    if (this.#buffer === undefined) {
      this.#text += text;
      return;
    }
    if (this.#length + text.length > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(Math.ceil(this.#buffer.length * 1.5), this.#length + text.length));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    this.#length += this.#buffer.write(text, this.#length, "latin1");
  }

  result(): string | Buffer {
    return this.#buffer === undefined ? this.#text : this.#buffer.subarray(0, this.#length);
  }
}

function isWritable(value: unknown): value is NDArray {
  if (typeof value !== "object" || value === null) return false;
  const { dtype, shape, data } = value as Partial<NDArray>;
  if (typeof dtype !== "string" || !writableDTypes.has(dtype) || !Array.isArray(shape)) return false;
  return data instanceof storageConstructors[dtype as Exclude<DType, "string">] && (data as ArrayLike<number>).length === elementCount(shape);
}

function writeArray(out: TextSink, array: NDArray): void {
  const data = array.data as ArrayLike<number>;
  const format = formatterOf(array);
  const { shape } = array;
  if (shape.length === 0) {
    out.write(format(data[0] as number));
    return;
  }
  const strides = shape.map((_, axis) => elementCount(shape.slice(axis + 1)));
  const write = (axis: number, offset: number): void => {
    const size = shape[axis] as number;
    out.write("[");
    if (axis === shape.length - 1) {
      for (let index = 0; index < size; index++) out.write(index === 0 ? format(data[offset + index] as number) : `,${format(data[offset + index] as number)}`);
    } else {
      const stride = strides[axis] as number;
      for (let index = 0; index < size; index++) {
        if (index > 0) out.write(",");
        write(axis + 1, offset + index * stride);
      }
    }
    out.write("]");
  };
  write(0, 0);
}

function formatterOf(array: NDArray): (value: number) => string {
  return array.dtype === "float32" ? float32Text : array.dtype === "float64" ? float64Text : String;
}

function float32Text(value: number): string {
  return Number.isFinite(value) ? String(shortestFloat32(value)) : "null";
}

function float64Text(value: number): string {
  return Number.isFinite(value) ? String(value) : "null";
}
