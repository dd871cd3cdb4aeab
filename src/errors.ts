import { catalogued } from "./error-codes.js";

const inferenceErrorBrand = Symbol.for("sagemaker-byoc-node.InferenceError");

type Digit = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
type ToNumber<Text> = Text extends `${infer Value extends number}` ? Value : never;

/**
 * An HTTP error status, 400 to 599: what an {@link InferenceError} may carry. SageMaker passes
 * a container's 4xx/5xx on to the client as a ModelError with `OriginalStatusCode`
 * (docs/sagemaker-contract.md); any other status would be a success, a redirect or no valid
 * HTTP answer at all. An error that carries one anyway (from JavaScript, or computed at run time)
 * is answered as a 500 `INTERNAL_ERROR` naming the inference id, and the log records the status
 * it asked for.
 *
 * @example
 * ```ts
 * const status: ErrorStatusCode = 422;
 * ```
 */
export type ErrorStatusCode = ToNumber<`${4 | 5}${Digit}${Digit}`>;

/**
 * True for an integer from 400 to 599, the statuses an {@link InferenceError} may carry: narrows
 * a status known only at run time (an upstream service's answer, say).
 *
 * @example
 * ```ts
 * if (isErrorStatusCode(upstream.status)) throw new InferenceError("Upstream refused", { statusCode: upstream.status });
 * ```
 */
export function isErrorStatusCode(value: unknown): value is ErrorStatusCode {
  return typeof value === "number" && Number.isInteger(value) && value >= 400 && value <= 599;
}

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
 * handler to choose the HTTP status (400-599, see {@link ErrorStatusCode}) and the message the
 * client sees; any other error becomes a generic 500 while the real error goes to the log.
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
  /**
   * HTTP status sent to the client, 400-599 (default 500). The constructor does not throw on
   * another value: an error thrown while building an error would replace the handler's own. The
   * value is checked where errors become answers, since errors from worker threads and from other
   * copies of this package arrive there too (see {@link ErrorStatusCode}).
   */
  readonly statusCode: ErrorStatusCode;

  constructor(message: string, options: { statusCode?: ErrorStatusCode; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const fallback = catalogued("INFERENCE_ERROR");
    this.statusCode = options.statusCode ?? fallback.statusCode;
    this.code = options.code ?? fallback.code;
  }
}

/** 400: the body could not be decoded (malformed JSON, ragged CSV, corrupt .npy...). */
export class BadRequestError extends InferenceError {
  override name = "BadRequestError";
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { ...catalogued("BAD_REQUEST"), ...(options.code === undefined ? {} : { code: options.code }), cause: options.cause });
  }
}

/** 415: no codec decodes the request's Content-Type. */
export class UnsupportedMediaTypeError extends InferenceError {
  override name = "UnsupportedMediaTypeError";
  constructor(message: string) {
    super(message, catalogued("UNSUPPORTED_MEDIA_TYPE"));
  }
}

/** 406: no codec encodes any media type the request's Accept allows, or the value cannot be encoded in it. */
export class NotAcceptableError extends InferenceError {
  override name = "NotAcceptableError";
  constructor(message: string) {
    super(message, catalogued("NOT_ACCEPTABLE"));
  }
}

/** 413: the body is larger than the configured limit. */
export class PayloadTooLargeError extends InferenceError {
  override name = "PayloadTooLargeError";
  constructor(message: string) {
    super(message, catalogued("PAYLOAD_TOO_LARGE"));
  }
}

/** 503: the model is not loaded (yet, or its load failed). */
export class ModelNotReadyError extends InferenceError {
  override name = "ModelNotReadyError";
  constructor(message: string) {
    super(message, catalogued("MODEL_NOT_READY"));
  }
}

/** 503 with Retry-After: too many requests in flight. */
export class OverloadedError extends InferenceError {
  override name = "OverloadedError";
  /** Seconds the client should wait before retrying. */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super(message, catalogued("OVERLOADED"));
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 504: the request ran past the response time limit. */
export class InferenceTimeoutError extends InferenceError {
  override name = "InferenceTimeoutError";
  constructor(message: string) {
    super(message, catalogued("TIMEOUT"));
  }
}

/** 404: no route answers this method and path. */
export class NotFoundError extends InferenceError {
  override name = "NotFoundError";
  constructor(message: string) {
    super(message, catalogued("NOT_FOUND"));
  }
}

/** 404: multi-model mode names a model that is not loaded. */
export class ModelNotFoundError extends InferenceError {
  override name = "ModelNotFoundError";
  constructor(message: string) {
    super(message, catalogued("MODEL_NOT_FOUND"));
  }
}

/** 409: multi-model mode was asked to load a model that is already loaded. */
export class ModelAlreadyLoadedError extends InferenceError {
  override name = "ModelAlreadyLoadedError";
  constructor(message: string) {
    super(message, catalogued("MODEL_ALREADY_LOADED"));
  }
}

/** 507: a model does not fit in the memory budget, even with every idle model unloaded. */
export class InsufficientMemoryError extends InferenceError {
  override name = "InsufficientMemoryError";
  constructor(message: string) {
    super(message, catalogued("INSUFFICIENT_MEMORY"));
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
