/**
 * The built-in codecs: JSON, JSON Lines, CSV, NumPy .npy, RecordIO and raw bytes both ways, and
 * multipart/form-data in.
 */
import type { Codec } from "./codec.js";
import { csvCodec } from "./csv.js";
import { jsonCodec } from "./json.js";
import { jsonLinesCodec } from "./jsonlines.js";
import { createMultipartCodec } from "./multipart.js";
import type { MultipartLimits } from "./multipart.js";
import { npyCodec } from "./npy.js";
import { octetStreamCodec } from "./octet-stream.js";
import { recordIOCodec } from "./recordio.js";

export type { Codec, DecodeOptions, EncodeOptions, EncodedBody } from "./codec.js";
export { csvCodec } from "./csv.js";
export { jsonCodec } from "./json.js";
export { jsonLinesCodec } from "./jsonlines.js";
export { createMultipartCodec, defaultMultipartLimits } from "./multipart.js";
export type { MultipartForm, MultipartLimits, UploadedFile } from "./multipart.js";
export { decodeNpy, encodeNpy, npyCodec } from "./npy.js";
export { octetStreamCodec } from "./octet-stream.js";
export { recordIOCodec } from "./recordio.js";

/**
 * Every built-in codec, JSON first (the first type answers an Accept that ranks several
 * equally): `application/json`, `application/jsonlines` (and `x-jsonlines`, `jsonl`), `text/csv`,
 * `application/x-npy`, `application/x-recordio`, `application/octet-stream`, and `multipart/form-data` (decode only)
 * with `options.multipart` over {@link defaultMultipartLimits}.
 *
 * @throws ConfigurationError when a multipart limit is invalid.
 * @example
 * ```ts
 * const registry = new CodecRegistry([...builtinCodecs({ multipart: { maxFiles: 1 } }), ...userCodecs]);
 * ```
 */
export function builtinCodecs(options: { readonly multipart?: Partial<MultipartLimits> } = {}): Codec[] {
  return [jsonCodec, jsonLinesCodec, csvCodec, npyCodec, recordIOCodec, octetStreamCodec, createMultipartCodec(options.multipart)];
}
