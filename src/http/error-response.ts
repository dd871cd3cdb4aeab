import { isInferenceError, OverloadedError, PayloadTooLargeError } from "../errors.js";

/** The JSON body of every error answer: `{"error": {"code", "message"}}`. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** Status, headers and body for an error. */
export interface ErrorResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ErrorBody;
  /** True when the client sees a generic message and the log must carry the real error. */
  readonly unexpected: boolean;
}

/**
 * The one place that maps errors to HTTP answers: {@link InferenceError}s keep their status,
 * code and message; anything else becomes a generic 500 that names the inference id, so the
 * real error (logged with its stack) can be found without leaking internals to clients.
 *
 * @example
 * ```ts
 * toErrorResponse(new BadRequestError("Invalid JSON body"), "abc").statusCode; // 400
 * ```
 */
export function toErrorResponse(error: unknown, inferenceId: string): ErrorResponse {
  if (isInferenceError(error)) {
    const headers: Record<string, string> = {};
    if (error instanceof OverloadedError) headers["retry-after"] = String(error.retryAfterSeconds);
    // The rest of an oversized body is never read: close rather than drain it.
    if (error instanceof PayloadTooLargeError) headers["connection"] = "close";
    return {
      statusCode: error.statusCode,
      headers,
      body: { error: { code: error.code, message: error.message } },
      unexpected: false,
    };
  }
  return {
    statusCode: 500,
    headers: {},
    body: { error: { code: "INTERNAL_ERROR", message: `The handlers failed; see the server log for inference id ${inferenceId}` } },
    unexpected: true,
  };
}
