const inferenceErrorBrand = Symbol.for("sagemaker-byoc-node.InferenceError");

/**
 * True for an {@link InferenceError} from any copy of this package: a handlers file may import
 * another copy than the server runs (a global CLI with a project-local package), where
 * `instanceof` would say no.
 *
 * @example
 * ```ts
 * if (isInferenceError(error)) console.log(error.statusCode);
 * ```
 */
export function isInferenceError(error: unknown): error is InferenceError {
  return typeof error === "object" && error !== null && inferenceErrorBrand in error;
}

/**
 * Every error the toolkit answers with. Throw {@link InferenceError} (or a subclass) from a
 * handler to choose the HTTP status and the message the client sees; any other error becomes a
 * generic 500 while the real error goes to the log.
 *
 * @example
 * ```ts
 * import { InferenceError } from "sagemaker-byoc-node";
 * export function inputFn(body: Buffer) {
 *   if (body.length === 0) throw new InferenceError("Empty image", { statusCode: 422, code: "EMPTY_IMAGE" });
 *   return body;
 * }
 * ```
 */
export class InferenceError extends Error {
  override name = "InferenceError";
  /** Marks toolkit errors across module copies (see {@link isInferenceError}). */
  readonly [inferenceErrorBrand] = true;
  /** Machine-readable code, sent to the client as `error.code`. */
  readonly code: string;
  /** HTTP status sent to the client. */
  readonly statusCode: number;

  constructor(message: string, options: { statusCode?: number; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.statusCode = options.statusCode ?? 500;
    this.code = options.code ?? "INFERENCE_ERROR";
  }
}

/** 400: the body could not be decoded (malformed JSON, ragged CSV, corrupt .npy...). */
export class BadRequestError extends InferenceError {
  override name = "BadRequestError";
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { statusCode: 400, code: options.code ?? "BAD_REQUEST", cause: options.cause });
  }
}

/** 415: no codec decodes the request's Content-Type. */
export class UnsupportedMediaTypeError extends InferenceError {
  override name = "UnsupportedMediaTypeError";
  constructor(message: string) {
    super(message, { statusCode: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
  }
}

/** 406: no codec encodes any media type the request's Accept allows, or the value cannot be encoded in it. */
export class NotAcceptableError extends InferenceError {
  override name = "NotAcceptableError";
  constructor(message: string) {
    super(message, { statusCode: 406, code: "NOT_ACCEPTABLE" });
  }
}

/** 413: the body is larger than the configured limit. */
export class PayloadTooLargeError extends InferenceError {
  override name = "PayloadTooLargeError";
  constructor(message: string) {
    super(message, { statusCode: 413, code: "PAYLOAD_TOO_LARGE" });
  }
}

/** 503: the model is not loaded (yet, or its load failed). */
export class ModelNotReadyError extends InferenceError {
  override name = "ModelNotReadyError";
  constructor(message: string) {
    super(message, { statusCode: 503, code: "MODEL_NOT_READY" });
  }
}

/** 503 with Retry-After: too many requests in flight. */
export class OverloadedError extends InferenceError {
  override name = "OverloadedError";
  /** Seconds the client should wait before retrying. */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super(message, { statusCode: 503, code: "OVERLOADED" });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 504: the request ran past the response time limit. */
export class InferenceTimeoutError extends InferenceError {
  override name = "InferenceTimeoutError";
  constructor(message: string) {
    super(message, { statusCode: 504, code: "TIMEOUT" });
  }
}

/** A start-up failure: bad configuration, hostile model archive, missing handlers file. */
export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

/** Thrown while extracting `model.tar.gz`: the archive is corrupt, too large or hostile. */
export class ModelArchiveError extends ConfigurationError {
  override name = "ModelArchiveError";
}
