import { InferenceError, InferenceTimeoutError, isInferenceError, type ErrorStatusCode } from "../errors.js";
import { failedStage, markFailedStage } from "../pipeline/stages/stage-errors.js";
import type { SerializedError } from "./worker-protocol.js";

/** Flattens an error for postMessage, keeping what the HTTP layer needs. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const known = isInferenceError(error);
    return {
      name: error.name,
      message: error.message,
      code: known ? error.code : undefined,
      statusCode: known ? error.statusCode : undefined,
      stack: error.stack,
      stage: failedStage(error),
    };
  }
  return { name: "Error", message: String(error), code: undefined, statusCode: undefined, stack: undefined, stage: undefined };
}

/**
 * Rebuilds an error on the main thread: {@link InferenceError}s keep their status and code;
 * anything else stays a plain Error (answered as a generic 500) with the worker's stack. Both
 * keep the pipeline stage they happened in.
 */
export function deserializeError(serialized: SerializedError): Error {
  if (serialized.name === "AbortError" || serialized.name === "TimeoutError") {
    return new InferenceTimeoutError("The request was abandoned (time limit or client gone) while the handlers ran");
  }
  const error =
    serialized.statusCode === undefined
      ? new Error(serialized.message)
      : new InferenceError(serialized.message, {
          // Whatever the handler's JavaScript set, passed on as it is: toErrorResponse answers a
          // status outside 400-599 as a 500 and logs the one the handler asked for.
          statusCode: serialized.statusCode as ErrorStatusCode,
          ...(serialized.code === undefined ? {} : { code: serialized.code }),
        });
  error.name = serialized.name;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  return serialized.stage === undefined ? error : markFailedStage(error, serialized.stage);
}
