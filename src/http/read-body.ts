import type { IncomingMessage } from "node:http";
import { BadRequestError, PayloadTooLargeError } from "../errors.js";

/**
 * Reads a request body into one Buffer, enforcing `limit` on the declared Content-Length
 * before reading and on the streamed length while reading (a chunked body declares none).
 * Past the limit it stops reading without destroying the socket, so the 413 still reaches
 * the client (the error response then closes the connection). Rejects with the signal's reason
 * when it fires first (a slow upload past the time limit).
 *
 * @example
 * ```ts
 * const body = await readBody(req, 6 * 1024 * 1024);
 * ```
 */
export function readBody(request: IncomingMessage, limit: number, signal?: AbortSignal): Promise<Buffer> {
  const declared = request.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(Number(declared), limit));
  return new Promise((resolve, reject) => {
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
      received += chunk.length;
      if (received > limit) {
        stop();
        request.pause();
        reject(tooLarge(received, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
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

function tooLarge(size: number, limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `Request body of ${size} bytes or more exceeds the limit of ${limit} bytes (BYOC_MAX_PAYLOAD_BYTES)`,
  );
}
