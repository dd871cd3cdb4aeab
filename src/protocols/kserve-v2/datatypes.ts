import type { DType, NDArray } from "../../tensor/ndarray.js";

/**
 * The tensor data types of the Open Inference Protocol (docs/kserve-v2.md), but `BF16`, which no
 * NDArray holds.
 *
 * @example
 * ```ts
 * const datatype: V2Datatype = "FP32";
 * ```
 */
export type V2Datatype = "BOOL" | "UINT8" | "UINT16" | "UINT32" | "UINT64" | "INT8" | "INT16" | "INT32" | "INT64" | "FP16" | "FP32" | "FP64" | "BYTES";

const dtypeOf: Readonly<Record<V2Datatype, DType>> = {
  BOOL: "bool",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FP16: "float16",
  FP32: "float32",
  FP64: "float64",
  BYTES: "string",
};

const datatypeOf = new Map<string, V2Datatype>(Object.entries(dtypeOf).map(([datatype, dtype]) => [dtype, datatype as V2Datatype]));

/**
 * True when `value` names a datatype this server reads.
 *
 * @example
 * ```ts
 * isV2Datatype("FP32"); // true
 * isV2Datatype("BF16"); // false
 * ```
 */
export function isV2Datatype(value: unknown): value is V2Datatype {
  return typeof value === "string" && Object.hasOwn(dtypeOf, value);
}

/**
 * The NDArray dtype a V2 datatype is held in (`BYTES` elements as strings).
 *
 * @example
 * ```ts
 * dtypeForDatatype("INT64"); // "int64"
 * ```
 */
export function dtypeForDatatype(datatype: V2Datatype): DType {
  return dtypeOf[datatype];
}

/**
 * The V2 datatype of an NDArray or ONNX dtype; an element type V2 does not list (an ONNX `int4`,
 * say) is named in capitals as it is, so metadata still says what the model takes.
 *
 * @example
 * ```ts
 * datatypeForDtype("float32"); // "FP32"
 * datatypeForDtype("string"); // "BYTES"
 * ```
 */
export function datatypeForDtype(dtype: string): string {
  return datatypeOf.get(dtype) ?? dtype.toUpperCase();
}

/**
 * A tensor's elements: numbers and booleans in an NDArray, `BYTES` elements as the bytes they are
 * (a model may take them as strings, a handler as a file).
 *
 * @example
 * ```ts
 * const data: V2TensorData = { kind: "bytes", elements: [Buffer.from("hello")] };
 * ```
 */
export type V2TensorData = { readonly kind: "tensor"; readonly array: NDArray } | { readonly kind: "bytes"; readonly elements: readonly Buffer[] };
