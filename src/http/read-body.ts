import type { IncomingMessage } from "node:http";
import { BadRequestError, PayloadTooLargeError } from "../errors.js";

/**
 * Bodies above this size get a buffer of their own (its whole ArrayBuffer), which moves to an
 * inference worker without a copy; smaller ones are gathered from the socket's chunks.
 */
const ownedBodyBytes = 64 * 1024;

/**
 * Reads a request body into one Buffer, enforcing `limit` on the declared Content-Length
 * before reading and on the streamed length while reading (a chunked body declares none).
 * A large body is written into one buffer that owns its memory, allocated at the declared size,
 * so it exists once in the process and can be transferred to a worker thread as is. Past the
 * limit it stops reading without destroying the socket, so the 413 still reaches the client.
 * Rejects with the signal's reason when it fires first (a slow upload past the time limit).
 *
 * @example
 * ```ts
 * const body = await readBody(req, 6 * 1024 * 1024);
 * ```
 */
export function readBody(request: IncomingMessage, limit: number, signal?: AbortSignal): Promise<Buffer> {
  const header = request.headers["content-length"];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > limit) return Promise.reject(tooLarge(declared, limit));
  return new Promise((resolve, reject) => {
    const owned = declared !== undefined && declared > ownedBodyBytes ? Buffer.allocUnsafeSlow(declared) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = (): void => {
      request.off("data", onData).off("end", onEnd).off("error", onError).off("aborted", onAborted);
      signal?.removeEventListener("abort", onSignal);
    };
    const onSignal = (): void => {
      stop();
      request.pause();
      reject(signal?.reason as Error);
    };
    const onData = (chunk: Buffer): void => {
      if (received + chunk.length > limit || (owned !== undefined && received + chunk.length > owned.length)) {
        stop();
        request.pause();
        reject(tooLarge(received + chunk.length, limit));
        return;
      }
      if (owned === undefined) chunks.push(chunk);
      else chunk.copy(owned, received);
      received += chunk.length;
    };
    const onEnd = (): void => {
      stop();
      resolve(owned === undefined ? gathered(chunks, received) : owned.subarray(0, received));
    };
    const onError = (error: Error): void => {
      stop();
      reject(new BadRequestError(`Could not read the request body: ${error.message}`, { code: "BODY_READ_FAILED", cause: error }));
    };
    const onAborted = (): void => onError(new Error("the client aborted the upload"));
    signal?.addEventListener("abort", onSignal, { once: true });
    request.on("data", onData).on("end", onEnd).on("error", onError).on("aborted", onAborted);
  });
}

function gathered(chunks: readonly Buffer[], size: number): Buffer {
  if (chunks.length === 1 && size <= ownedBodyBytes) return chunks[0] as Buffer;
  if (size <= ownedBodyBytes) return Buffer.concat(chunks, size);
  const owned = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for (const chunk of chunks) offset += chunk.copy(owned, offset);
  return owned;
}

function tooLarge(size: number, limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `Request body of ${size} bytes or more exceeds the limit of ${limit} bytes (BYOC_MAX_PAYLOAD_BYTES)`,
  );
}
