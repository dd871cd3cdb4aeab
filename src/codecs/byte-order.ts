/** Byte-order helpers for the binary codecs (.npy and raw octet streams). Internal. */

/** True on little-endian hosts (every platform Node ships for except s390x). */
export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Returns a copy of `bytes` with every `elementSize`-byte element reversed: little-endian data
 * becomes big-endian and back. `bytes.length` must be a multiple of `elementSize`.
 *
 * @example
 * ```ts
 * swapByteOrder(new Uint8Array([0x01, 0x02, 0x03, 0x04]), 2); // Uint8Array [0x02, 0x01, 0x04, 0x03]
 * ```
 */
export function swapByteOrder(bytes: Uint8Array, elementSize: number): Uint8Array<ArrayBuffer> {
  const swapped = new Uint8Array(bytes.length);
  for (let element = 0; element < bytes.length; element += elementSize) {
    for (let byte = 0; byte < elementSize; byte++) {
      swapped[element + byte] = bytes[element + elementSize - 1 - byte] as number;
    }
  }
  return swapped;
}

/**
 * The bytes a typed array's elements occupy, without copying.
 *
 * @example
 * ```ts
 * bytesOf(new Uint16Array([1])); // Uint8Array [0x01, 0x00] on a little-endian host
 * ```
 */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
