import { ModelNotReadyError } from "../errors.js";

/**
 * Whether the server can take requests, as `/ping` reports it, and why not when it cannot.
 *
 * @example
 * ```ts
 * const readiness: Readiness = { ready: false, failure: undefined };
 * ```
 */
export interface Readiness {
  readonly ready: boolean;
  /** Why the model could not be loaded, when it could not. */
  readonly failure: Error | undefined;
}

/**
 * The one "not ready" answer, for `/ping` and for requests alike: loading, or failed with the reason.
 *
 * @example
 * ```ts
 * throw notReadyError(readiness); // 503 MODEL_NOT_READY "Model is loading"
 * ```
 */
export function notReadyError(readiness: Readiness): ModelNotReadyError {
  return new ModelNotReadyError(readiness.failure ? `Model failed to load: ${readiness.failure.message}` : "Model is loading");
}
