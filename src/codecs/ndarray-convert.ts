/**
 * Conversions between {@link NDArray}s, typed arrays and plain JS values, shared by the codecs.
 * Internal: not exported from the package.
 */
import { BadRequestError, InferenceError, NotAcceptableError } from "../errors.js";
import { float16Bits, float16Value } from "../tensor/float16.js";
import { flattenNested, leadingShape } from "../tensor/nested-array.js";
import { elementCount, isNDArray, storageConstructors } from "../tensor/ndarray.js";
import type { NDArray, NumericStorage, StorageConstructor } from "../tensor/ndarray.js";

/** One element of an array as a plain JS value. */
export type Element = number | bigint | boolean | string;

/**
 * Throws unless `array` is consistent: known dtype, non-negative integer dimensions, storage of
 * the dtype's type and exactly as many elements as the shape holds. A prediction that fails this
 * is a handler bug, so it is a 500, not a client error.
 *
 * @example
 * ```ts
 * checkNDArray({ dtype: "float32", shape: [2], data: new Float32Array(3) }); // throws InferenceError
 * ```
 */
export function checkNDArray(array: NDArray): void {
  const { dtype, shape, data } = array;
  const invalid = (problem: string) =>
    new InferenceError(`The prediction is not a valid NDArray: ${problem}`, { code: "INVALID_PREDICTION" });
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw invalid(`shape [${shape.join(", ")}] has a dimension that is not a non-negative integer`);
  }
  if (dtype === "string") {
    if (!Array.isArray(data) || !data.every((item) => typeof item === "string")) {
      throw invalid("a string NDArray needs an array of strings as data");
    }
  } else {
    const constructor = storageConstructors[dtype] as StorageConstructor | undefined;
    if (constructor === undefined) throw invalid(`unknown dtype ${JSON.stringify(dtype)}`);
    if (!(data instanceof constructor)) throw invalid(`a ${dtype} NDArray needs a ${constructor.name} as data`);
  }
  const expected = elementCount(shape);
  if (data.length !== expected) {
    throw invalid(`shape [${shape.join(", ")}] holds ${expected} elements but data has ${data.length}`);
  }
}

/**
 * Wraps a typed array as a 1-D {@link NDArray} without copying. `Uint8ClampedArray` becomes
 * `uint8` and Node 24's `Float16Array` becomes `float16`. Returns `undefined` for a `DataView`.
 *
 * @example
 * ```ts
 * typedArrayToNDArray(new Float32Array([1, 2])); // { dtype: "float32", shape: [2], data: Float32Array [1, 2] }
 * ```
 */
export function typedArrayToNDArray(view: ArrayBufferView): NDArray | undefined {
  if (view instanceof Float32Array) return { dtype: "float32", shape: [view.length], data: view };
  if (view instanceof Float64Array) return { dtype: "float64", shape: [view.length], data: view };
  if (view instanceof Int8Array) return { dtype: "int8", shape: [view.length], data: view };
  if (view instanceof Int16Array) return { dtype: "int16", shape: [view.length], data: view };
  if (view instanceof Int32Array) return { dtype: "int32", shape: [view.length], data: view };
  if (view instanceof BigInt64Array) return { dtype: "int64", shape: [view.length], data: view };
  if (view instanceof Uint8Array) return { dtype: "uint8", shape: [view.length], data: view };
  if (view instanceof Uint16Array) return { dtype: "uint16", shape: [view.length], data: view };
  if (view instanceof Uint32Array) return { dtype: "uint32", shape: [view.length], data: view };
  if (view instanceof BigUint64Array) return { dtype: "uint64", shape: [view.length], data: view };
  if (view instanceof Uint8ClampedArray) {
    return { dtype: "uint8", shape: [view.length], data: new Uint8Array(view.buffer, view.byteOffset, view.length) };
  }
  if (Object.prototype.toString.call(view) === "[object Float16Array]") {
    const length = view.byteLength / 2;
    return { dtype: "float16", shape: [length], data: new Uint16Array(view.buffer, view.byteOffset, length) };
  }
  return undefined;
}

/**
 * The elements of `array` in row-major order as plain values: `bool` as booleans, `int64` and
 * `uint64` as bigints, `float16` and `float32` as the shortest decimal that reads back as the
 * same value (see {@link shortestFloat32}). Call {@link checkNDArray} first.
 *
 * @example
 * ```ts
 * elementsOf({ dtype: "float32", shape: [2], data: new Float32Array([0.1, 0.5]) }); // [0.1, 0.5]
 * ```
 */
export function elementsOf(array: NDArray): Element[] {
  switch (array.dtype) {
    case "float32":
      return Array.from(array.data as Float32Array, shortestFloat32);
    case "float16":
      return Array.from(array.data as Uint16Array, shortestFloat16);
    case "bool":
      return Array.from(array.data as Uint8Array, (byte) => byte !== 0);
    case "string":
      return [...(array.data as string[])];
    default:
      return [...(array.data as Exclude<NumericStorage, Float32Array>)];
  }
}

/**
 * Builds nested arrays of `shape` from row-major `elements`; a scalar for shape `[]`.
 *
 * @example
 * ```ts
 * nest([1, 2, 3, 4, 5, 6], [2, 3]); // [[1, 2, 3], [4, 5, 6]]
 * ```
 */
export function nest(elements: readonly unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return elements[0];
  const strides = shape.map((_, axis) => elementCount(shape.slice(axis + 1)));
  const build = (axis: number, offset: number): unknown[] => {
    const size = shape[axis] as number;
    if (axis === shape.length - 1) return elements.slice(offset, offset + size);
    const stride = strides[axis] as number;
    const rows = new Array<unknown>(size);
    for (let index = 0; index < size; index++) rows[index] = build(axis + 1, offset + index * stride);
    return rows;
  };
  return build(0, 0);
}

/**
 * Flattens rectangular nested arrays into their shape and row-major leaves. A non-array value is
 * a scalar of shape `[]`. Ragged arrays throw {@link NotAcceptableError} naming `mediaType`.
 *
 * @example
 * ```ts
 * flattenPrediction([[1, 2], [3, 4]], "text/csv"); // { shape: [2, 2], elements: [1, 2, 3, 4] }
 * ```
 */
export function flattenPrediction(value: unknown, mediaType: string): { shape: number[]; elements: unknown[] } {
  const shape = leadingShape(value);
  try {
    return { shape, elements: flattenNested(value, shape, "the prediction") };
  } catch (error) {
    // A ragged prediction is not the client's fault: it just has no form in this media type.
    if (!(error instanceof BadRequestError)) throw error;
    throw new NotAcceptableError(`${mediaType} needs a rectangular array; ${error.message}`);
  }
}

/**
 * True for a plain object (a record of named outputs), false for NDArrays, arrays and class instances.
 *
 * @example
 * ```ts
 * isRecord({ label: "cat" }); // true
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || isNDArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * For formats that hold a single array: unwraps a record with exactly one output (what a
 * one-output ONNX model returns) and rejects a record with several, saying which outputs it has.
 * Any other value is returned as is.
 *
 * @example
 * ```ts
 * singleOutput({ probabilities: tensor }, "text/csv can hold one 1-D or 2-D tensor"); // tensor
 * ```
 */
export function singleOutput(value: unknown, limitation: string): unknown {
  if (!isRecord(value)) return value;
  const names = Object.keys(value);
  if (names.length === 1) return value[names[0] as string];
  const has = names.length === 0 ? "no outputs" : `outputs ${names.join(", ")}`;
  throw new NotAcceptableError(`${limitation}; the prediction has ${has}`);
}

/**
 * Names what kind of value `value` is, for error messages: `a string`, `an Array`, `a DataView`, `null`.
 *
 * @example
 * ```ts
 * describeValue(new Map()); // "a Map"
 * ```
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  const kind = typeof value === "object" ? ((value.constructor as { name?: string } | undefined)?.name ?? "object") : typeof value;
  return `${/^[aeiou]/i.test(kind) ? "an" : "a"} ${kind === "Object" ? "object" : kind}`;
}

const MIN_NORMAL_FLOAT32 = 2 ** -126;

/**
 * The number with the fewest significant digits that `Math.fround` maps back to `value`, a
 * float32: `0.1` rather than `0.10000000149011612`. The result reads back as the same float32.
 *
 * @example
 * ```ts
 * shortestFloat32(new Float32Array([0.1])[0]!); // 0.1
 * ```
 */
export function shortestFloat32(value: number): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  // Nine significant digits always read back as the same float32, and if some precision does, so
  // does every higher one: binary-search the lowest. A normal float32 has more than 7 digits of
  // precision, so a decimal shorter than 6 digits that reads back is found at 6; subnormals have less.
  let low = Math.abs(value) < MIN_NORMAL_FLOAT32 ? 1 : 6;
  let high = 9;
  let shortest: number | undefined;
  while (low < high) {
    const precision = (low + high) >> 1;
    const candidate = Number(value.toPrecision(precision));
    if (Math.fround(candidate) === value) {
      high = precision;
      shortest = candidate;
    } else {
      low = precision + 1;
    }
  }
  return shortest ?? Number(value.toPrecision(9));
}

/**
 * Like {@link shortestFloat32} for half-precision `bits`: `0.1` rather than `0.0999755859375`.
 *
 * @example
 * ```ts
 * shortestFloat16(0x2e66); // 0.1
 * ```
 */
export function shortestFloat16(bits: number): number {
  const value = float16Value(bits);
  if (value === 0 || !Number.isFinite(value)) return value;
  for (let precision = 1; precision < 5; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (float16Bits(candidate) === bits) return candidate;
  }
  return Number(value.toPrecision(5));
}
