/**
 * The n-dimensional array codecs produce and consume. It holds what an onnxruntime `Tensor`
 * holds under other names (`dtype` for the Tensor's `type`, `shape` for its `dims`, and the same
 * `data`), so `toTensor` and `fromTensor` (models/onnx/to-tensor.ts) convert one to the other
 * without copying the data.
 */

/** Element types, named as onnxruntime-node names them. */
export type DType =
  | "float16"
  | "float32"
  | "float64"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "bool"
  | "string";

/** Storage for each {@link DType}. `float16` is stored as raw IEEE half bits; `bool` as 0/1 bytes. */
export interface DTypeStorage {
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  string: string[];
}

/**
 * A dense, row-major n-dimensional array.
 *
 * @example
 * ```ts
 * const batch: NDArray = { dtype: "float32", shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) };
 * ```
 */
export interface NDArray<T extends DType = DType> {
  readonly dtype: T;
  readonly shape: readonly number[];
  readonly data: DTypeStorage[T];
}

/** Every dtype but `string`: the ones with a fixed-size binary form. */
export type NumericDType = Exclude<DType, "string">;

/** Typed array storage of a {@link NumericDType}. */
export type NumericStorage = DTypeStorage[NumericDType];

/** A typed array constructor for one {@link NumericDType}. */
export interface StorageConstructor {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): NumericStorage;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericStorage;
}

/**
 * The typed array each numeric dtype is stored in (see {@link DTypeStorage}).
 *
 * @example
 * ```ts
 * new storageConstructors.float32(4); // Float32Array(4)
 * ```
 */
export const storageConstructors: Readonly<Record<NumericDType, StorageConstructor>> = {
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** True when `value` is an {@link NDArray}. */
export function isNDArray(value: unknown): value is NDArray {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<NDArray>;
  return typeof candidate.dtype === "string" && Array.isArray(candidate.shape) && candidate.data !== undefined;
}

/** Number of elements an array of `shape` holds. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}
