import { catalogued } from "../error-codes.js";
import { isErrorStatusCode, isInferenceError, OverloadedError, type ErrorStatusCode } from "../errors.js";
import { failedStage } from "../pipeline/stages/stage-errors.js";

/**
 * The JSON body of every error answer: `{"error": {"code", "message"}}`, and `stage` when a
 * stage of a pipeline of stages failed (docs/pipelines.md, "When a stage fails").
 */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly stage?: string };
}

/** Status, headers and body for an error. */
export interface ErrorResponse {
  readonly statusCode: ErrorStatusCode;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ErrorBody;
  /** True when the client sees a generic message and the log must carry the real error. */
  readonly unexpected: boolean;
  /**
   * The status an {@link InferenceError} asked for when it was not an integer from 400 to 599
   * (it is then answered as a 500): the log records it, to show the handler's mistake.
   */
  readonly rejectedStatusCode?: unknown;
}

/**
 * The one place that maps errors to HTTP answers: {@link InferenceError}s keep their status,
 * code and message; anything else becomes a generic 500 that names the inference id, so the
 * real error (logged with its stack) can be found without leaking internals to clients. So does
 * an InferenceError whose status is not 400-599 ({@link ErrorStatusCode}): a 200 would send an
 * error body as a success, a 302 a redirect, a 1000 no valid answer at all. The check is made
 * here rather than in the constructor because errors reach this point from worker threads (as
 * plain data) and from other copies of the package, whatever status they carry.
 *
 * @example
 * ```ts
 * toErrorResponse(new BadRequestError("Invalid JSON body"), "abc").statusCode; // 400
 * ```
 */
export function toErrorResponse(error: unknown, inferenceId: string): ErrorResponse {
  const stage = failedStage(error);
  if (!isInferenceError(error)) return internalError(inferenceId, stage, {});
  if (!isErrorStatusCode(error.statusCode)) return internalError(inferenceId, stage, { rejectedStatusCode: error.statusCode });
  const headers: Record<string, string> = {};
  if (error instanceof OverloadedError) headers["retry-after"] = String(error.retryAfterSeconds);
  return {
    statusCode: error.statusCode,
    headers,
    body: { error: { code: error.code, message: error.message, ...(stage === undefined ? {} : { stage }) } },
    unexpected: false,
  };
}

function internalError(inferenceId: string, stage: string | undefined, details: { rejectedStatusCode?: unknown }): ErrorResponse {
  const { code, statusCode } = catalogued("INTERNAL_ERROR");
  const where = stage === undefined ? "The handlers failed" : `The handlers of stage "${stage}" failed`;
  return {
    statusCode,
    headers: {},
    body: { error: { code, message: `${where}; see the server log for inference id ${inferenceId}`, ...(stage === undefined ? {} : { stage }) } },
    unexpected: true,
    ...details,
  };
}
