import { BadRequestError } from "../errors.js";
import type { DType, DTypeStorage, NDArray } from "./ndarray.js";
import { float16Bits, float16Value } from "./float16.js";

type SmallIntegerDType = "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32";

interface IntegerRange {
  readonly storage: new (length: number) => DTypeStorage[SmallIntegerDType];
  readonly min: number;
  readonly max: number;
}

const SMALL_INTEGERS: Readonly<Record<SmallIntegerDType, IntegerRange>> = {
  int8: { storage: Int8Array, min: -(2 ** 7), max: 2 ** 7 - 1 },
  uint8: { storage: Uint8Array, min: 0, max: 2 ** 8 - 1 },
  int16: { storage: Int16Array, min: -(2 ** 15), max: 2 ** 15 - 1 },
  uint16: { storage: Uint16Array, min: 0, max: 2 ** 16 - 1 },
  int32: { storage: Int32Array, min: -(2 ** 31), max: 2 ** 31 - 1 },
  uint32: { storage: Uint32Array, min: 0, max: 2 ** 32 - 1 },
};

const BIG_INTEGERS = {
  int64: { storage: BigInt64Array, min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint64: { storage: BigUint64Array, min: 0n, max: 2n ** 64n - 1n },
} as const;

const DTYPES: ReadonlySet<string> = new Set<DType>([
  "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string",
]);

/** Types whose storage holds plain numbers, which typed-array constructors convert natively. */
const NUMBER_STORAGE: ReadonlySet<DType> = new Set<DType>([
  "float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "bool",
]);

/**
 * True when `type` (an onnxruntime tensor type, say) is one an {@link NDArray} can hold: not
 * `int4` or `uint4`.
 *
 * @example
 * ```ts
 * isDType(tensor.type) ? fromTensor(tensor) : undefined;
 * ```
 */
export function isDType(type: string): type is DType {
  return DTYPES.has(type);
}

/**
 * `array`'s data as storage for `dtype`: the same data when the dtype already matches, otherwise
 * a converted copy. Conversions that lose information (1.5 into int64, 300 into uint8, a string
 * into float32, 2 into bool) throw a {@link BadRequestError} naming the value and its index.
 *
 * @example
 * ```ts
 * const float64: NDArray = { dtype: "float64", shape: [1, 2], data: new Float64Array([1, 2]) };
 * castNDArray(float64, "float32", 'input "x"'); // Float32Array [1, 2]
 * ```
 */
export function castNDArray<T extends DType>(array: NDArray, dtype: T, label: string): DTypeStorage[T] {
  if (array.dtype === dtype) return array.data as DTypeStorage[T];
  if ((dtype === "float32" || dtype === "float64") && NUMBER_STORAGE.has(array.dtype)) {
    const Storage = dtype === "float32" ? Float32Array : Float64Array;
    return new Storage(array.data as ArrayLike<number>) as DTypeStorage[T];
  }
  const source = array.dtype === "float16" ? Array.from(array.data as Uint16Array, float16Value) : array.data;
  return castElements(source, dtype, array.shape, label);
}

/**
 * Converts plain values (numbers, bigints, booleans, strings, as a JSON or CSV decoder gives
 * them) into storage for `dtype`. Numbers go to any numeric type that holds them exactly
 * (integers only for integer types, within range); booleans, 0 and 1 to bool; strings to string
 * only. Anything else throws a {@link BadRequestError} naming the value and its index in `shape`.
 *
 * @example
 * ```ts
 * castElements([1, 2, 3], "int64", [3], 'input "ids"'); // BigInt64Array [1n, 2n, 3n]
 * castElements([1.5], "int64", [1], 'input "ids"'); // throws: input "ids" expects int64 integers ..., got 1.5 at [0]
 * ```
 */
export function castElements<T extends DType>(
  values: ArrayLike<unknown>,
  dtype: T,
  shape: readonly number[],
  label: string,
): DTypeStorage[T] {
  const count = values.length;
  const reject = (index: number, expected: string): BadRequestError =>
    new BadRequestError(`${label} expects ${expected}, got ${describe(values[index])}${formatIndex(index, shape)}`);

  const type: DType = dtype;
  switch (type) {
    case "string": {
      const strings = new Array<string>(count);
      for (let index = 0; index < count; index++) {
        const value = values[index];
        if (typeof value !== "string") throw reject(index, "strings");
        strings[index] = value;
      }
      return strings as DTypeStorage[T];
    }
    case "bool": {
      const bools = new Uint8Array(count);
      for (let index = 0; index < count; index++) {
        const value = values[index];
        if (value === true || value === 1 || value === 1n) bools[index] = 1;
        else if (!(value === false || value === 0 || value === 0n)) throw reject(index, "bool values (true, false, 0 or 1)");
      }
      return bools as DTypeStorage[T];
    }
    case "float16":
    case "float32":
    case "float64": {
      const floats =
        type === "float16" ? new Uint16Array(count) : type === "float32" ? new Float32Array(count) : new Float64Array(count);
      for (let index = 0; index < count; index++) {
        const value = values[index];
        const number = typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : undefined;
        if (number === undefined) throw reject(index, `${type} numbers`);
        floats[index] = type === "float16" ? float16Bits(number) : number;
      }
      return floats as DTypeStorage[T];
    }
    case "int64":
    case "uint64": {
      const { storage: Storage, min, max } = BIG_INTEGERS[type];
      const integers = new Storage(count);
      for (let index = 0; index < count; index++) {
        const value = values[index];
        const integer = typeof value === "bigint" ? value : Number.isInteger(value) ? BigInt(value as number) : undefined;
        if (integer === undefined || integer < min || integer > max) {
          throw reject(index, `${type} integers from ${min} to ${max}`);
        }
        integers[index] = integer;
      }
      return integers as DTypeStorage[T];
    }
    default: {
      const { storage: Storage, min, max } = SMALL_INTEGERS[type];
      const integers = new Storage(count);
      for (let index = 0; index < count; index++) {
        const value = values[index];
        const integer = typeof value === "bigint" ? Number(value) : value;
        if (!Number.isInteger(integer) || (integer as number) < min || (integer as number) > max) {
          throw reject(index, `${type} integers from ${min} to ${max}`);
        }
        integers[index] = integer as number;
      }
      return integers as DTypeStorage[T];
    }
  }
}

function describe(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "bigint":
    case "boolean":
      return String(value);
    case "undefined":
      return "nothing";
    default:
      if (value === null) return "null";
      if (Array.isArray(value)) return "a list";
      return typeof value === "object" ? "an object" : `a ${typeof value}`;
  }
}

function formatIndex(flatIndex: number, shape: readonly number[]): string {
  if (shape.length === 0) return "";
  const indices = new Array<number>(shape.length);
  let rest = flatIndex;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const size = shape[axis] ?? 1;
    indices[axis] = rest % size;
    rest = Math.floor(rest / size);
  }
  return ` at [${indices.join(", ")}]`;
}
