import { NotAcceptableError } from "../errors.js";
import { isNDArray } from "../tensor/ndarray.js";
import type { NDArray } from "../tensor/ndarray.js";
import { bytesOf, hostIsLittleEndian, swapByteOrder } from "./byte-order.js";
import type { Codec } from "./codec.js";
import { checkNDArray, describeValue, singleOutput, typedArrayToNDArray } from "./ndarray-convert.js";
import type { NumericStorage } from "../tensor/ndarray.js";

/**
 * `application/octet-stream`: raw bytes.
 *
 * Decoding gives the body `Buffer` as is. Encoding sends a `Buffer`, `Uint8Array` or
 * `ArrayBuffer` as is; the elements of any other typed array, or of a numeric NDArray
 * (`float16` as its half-precision bits, `bool` as 0/1 bytes), as little-endian bytes in
 * row-major order with no header (the shape is lost: use `application/x-npy` to keep it);
 * a string as UTF-8. A record holding exactly one output is unwrapped. Anything else, including
 * `string` tensors, is a 406.
 *
 * @example
 * ```ts
 * octetStreamCodec.encode!(new Float32Array([1]), { mediaType }); // Uint8Array [0x00, 0x00, 0x80, 0x3f]
 * ```
 */
export const octetStreamCodec: Codec = {
  mediaTypes: ["application/octet-stream"],
  decode: (body) => body,
  encode: (value) => encodeBytes(singleOutput(value, "application/octet-stream holds one array or blob")),
};

function encodeBytes(prediction: unknown): Uint8Array {
  if (typeof prediction === "string") return Buffer.from(prediction, "utf8");
  if (prediction instanceof Uint8Array) return prediction;
  if (prediction instanceof ArrayBuffer) return new Uint8Array(prediction);
  const array = isNDArray(prediction)
    ? prediction
    : ArrayBuffer.isView(prediction)
      ? typedArrayToNDArray(prediction)
      : undefined;
  if (array === undefined) {
    throw new NotAcceptableError(
      `application/octet-stream holds bytes: return a Buffer, a typed array, a numeric NDArray or a string, not ${describeValue(prediction)}`,
    );
  }
  return littleEndianBytes(array);
}

function littleEndianBytes(array: NDArray): Uint8Array {
  checkNDArray(array);
  if (array.dtype === "string") {
    throw new NotAcceptableError("application/octet-stream cannot hold string tensors; use application/json");
  }
  const data = array.data as NumericStorage;
  const bytes = bytesOf(data);
  return hostIsLittleEndian || data.BYTES_PER_ELEMENT === 1 ? bytes : swapByteOrder(bytes, data.BYTES_PER_ELEMENT);
}
