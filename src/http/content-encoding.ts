import { promisify } from "node:util";
import { brotliDecompress, gunzip, inflate } from "node:zlib";
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors.js";

type Decompress = (body: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>;

const decoders: ReadonlyMap<string, Decompress> = new Map<string, Decompress>([
  ["gzip", promisify(gunzip)],
  ["x-gzip", promisify(gunzip)],
  ["deflate", promisify(inflate)],
  ["br", promisify(brotliDecompress)],
]);

/**
 * Undoes a request's `Content-Encoding` (`gzip`, `deflate`, `br`, or several, applied in the
 * order listed), so handlers always see the body as the client meant it. The decoded body is held
 * to `limit` like any other (a small bomb cannot expand past it), decompression runs on libuv's
 * thread pool rather than the HTTP thread, and an encoding the server cannot undo is a 415 rather
 * than bytes handed on as if they were plain.
 *
 * @example
 * ```ts
 * const body = await decodeContentEncoding(raw, req.headers["content-encoding"], 6 << 20);
 * ```
 */
export async function decodeContentEncoding(body: Buffer, header: string | undefined, limit: number): Promise<Buffer> {
  if (header === undefined) return body;
  const codings = header.split(",").map((coding) => coding.trim().toLowerCase()).filter((coding) => coding !== "" && coding !== "identity");
  let decoded = body;
  for (const coding of codings.reverse()) {
    const decompress = decoders.get(coding);
    if (decompress === undefined) {
      throw new UnsupportedMediaTypeError(`Content-Encoding ${coding.slice(0, 40)} is not supported; send gzip, deflate, br or none`);
    }
    try {
      decoded = await decompress(decoded, { maxOutputLength: limit });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        throw new PayloadTooLargeError(`The request body decodes (${coding}) to more than the limit of ${limit} bytes (BYOC_MAX_PAYLOAD_BYTES)`);
      }
      throw new BadRequestError(`The request body is not valid ${coding}: ${(error as Error).message}`, { code: "INVALID_CONTENT_ENCODING", cause: error });
    }
  }
  return decoded;
}
