import { runtimeApiErrors } from "../error-codes.js";

/**
 * The error types of the SageMaker Runtime API the gateway answers with, as the catalogue
 * (`src/error-codes.ts`) lists them with their statuses.
 *
 * @example
 * ```ts
 * const type: RuntimeApiErrorType = "ValidationError";
 * ```
 */
export type RuntimeApiErrorType = keyof typeof runtimeApiErrors;

/**
 * An answer of the gateway in the real service's restJson1 error shape: status, the
 * `x-amzn-ErrorType` header and a JSON body with `Message` (and the type's own members), so the
 * unmodified AWS SDKs, boto3 and aws-cli raise the same exception class as against SageMaker.
 *
 * @example
 * ```ts
 * throw new RuntimeApiError("ValidationError", 400, "Endpoint x of account 000000000000 not found.");
 * ```
 */
export class RuntimeApiError extends Error {
  override name = "RuntimeApiError";
  readonly errorType: RuntimeApiErrorType;
  readonly statusCode: number;
  /** Members besides `Message`, e.g. ModelError's `OriginalStatusCode`. */
  readonly members: Readonly<Record<string, string | number>>;

  constructor(errorType: RuntimeApiErrorType, statusCode: number, message: string, members: Record<string, string | number> = {}) {
    super(message);
    this.errorType = errorType;
    this.statusCode = statusCode;
    this.members = members;
  }
}

/**
 * 400 ValidationError, worded as AWS words constraint failures.
 *
 * @example
 * ```ts
 * throw validationError("requestTTLSeconds", "30", "Member must have value greater than or equal to 60");
 * ```
 */
export function validationError(member: string, value: string | undefined, constraint: string): RuntimeApiError {
  const shown = value === undefined ? "null" : `'${value.length > 256 ? `${value.slice(0, 256)}...` : value}'`;
  return new RuntimeApiError("ValidationError", runtimeApiErrors.ValidationError.status, `1 validation error detected: Value ${shown} at '${member}' failed to satisfy constraint: ${constraint}`);
}

/**
 * The ValidationError for an InvokeEndpointAsync request with a body: this gateway reads
 * payloads from S3 only (`value` says how large the body was).
 *
 * @example
 * ```ts
 * throw inlineBodyRefused("12 bytes");
 * ```
 */
export function inlineBodyRefused(value: string): RuntimeApiError {
  return validationError("body", value, "This local gateway does not take inline bodies; upload the payload to S3 and pass InputLocation");
}

/**
 * The container answered `/invocations` with a 4xx/5xx: its status, body and content type, as
 * the real-time gateway turns into a ModelError (424) and the async worker into a failure object.
 *
 * @example
 * ```ts
 * throw new ModelInvocationError(400, Buffer.from('{"error":"bad"}'), "application/json");
 * ```
 */
export class ModelInvocationError extends Error {
  override name = "ModelInvocationError";
  readonly statusCode: number;
  readonly body: Buffer;
  readonly contentType: string;

  constructor(statusCode: number, body: Buffer, contentType: string) {
    super(`The model answered ${statusCode}: ${describeBody(body)}`);
    this.statusCode = statusCode;
    this.body = body;
    this.contentType = contentType;
  }

  /** The message a person should read: `error.message` or `message` of a JSON body, else the text. */
  get originalMessage(): string {
    return describeBody(this.body);
  }
}

/**
 * The container cannot take requests yet: unreachable (connection refused, or reset before the
 * request was sent) or its model is still loading. The async worker retries these until the
 * request's TTL.
 *
 * @example
 * ```ts
 * throw new InvokerUnavailableError("connect ECONNREFUSED 127.0.0.1:8080");
 * ```
 */
export class InvokerUnavailableError extends Error {
  override name = "InvokerUnavailableError";
}

/**
 * An HTTP container closed the connection after it was sent the request (or in the middle of its
 * answer), without a complete answer: it crashed or was restarted, perhaps because of this very
 * payload. The async worker retries it a few times, then fails the request, so a payload that
 * crashes the container is not retried until its TTL.
 *
 * @example
 * ```ts
 * throw new InvocationDroppedError("The model at http://model:8080/invocations closed the connection without answering: socket hang up");
 * ```
 */
export class InvocationDroppedError extends Error {
  override name = "InvocationDroppedError";
}

/**
 * An input object larger than the async payload limit (`BYOC_ASYNC_MAX_PAYLOAD_BYTES`).
 *
 * @example
 * ```ts
 * throw new PayloadLimitError(2 ** 31, 2 ** 30);
 * ```
 */
export class PayloadLimitError extends Error {
  override name = "PayloadLimitError";
  constructor(size: number, limit: number) {
    super(`The input object is ${size} bytes, over the limit of ${limit} bytes (BYOC_ASYNC_MAX_PAYLOAD_BYTES)`);
  }
}

const maxMessageChars = 1024;

function describeBody(body: Buffer): string {
  const text = body.subarray(0, 64 * 1024).toString("utf8");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; Message?: unknown };
    const candidate = typeof parsed.error === "object" ? parsed.error.message : (parsed.error ?? parsed.message ?? parsed.Message);
    if (typeof candidate === "string") return truncate(candidate);
  } catch {
    // Not JSON: the text itself is the message.
  }
  return truncate(text.trim());
}

function truncate(text: string): string {
  return text.length > maxMessageChars ? `${text.slice(0, maxMessageChars)}...` : text;
}

/**
 * Multi-model: the TargetModel's archive is not in S3 under the ModelDataUrl prefix (or the
 * gateway may not read it). The gateway answers SageMaker's ValidationError (docs/multi-model.md,
 * "Local gateway").
 *
 * @example
 * ```ts
 * throw new ModelDataNotFoundError({ bucket: "models", key: "mme/missing.tar.gz" }, "NoSuchKey");
 * ```
 */
export class ModelDataNotFoundError extends Error {
  override name = "ModelDataNotFoundError";
  readonly location: { readonly bucket: string; readonly key: string };

  constructor(location: { readonly bucket: string; readonly key: string }, reason: string, options?: ErrorOptions) {
    super(`No model data at s3://${location.bucket}/${location.key} (${reason})`, options);
    this.location = location;
  }
}

/**
 * Multi-model: the TargetModel's object is there but cannot serve as a model: not a safe
 * `.tar.gz`, or larger than the gateway's model cache. Answered as a ValidationError.
 *
 * @example
 * ```ts
 * throw new ModelDataInvalidError("s3://models/mme/x.tar.gz is not a gzip-compressed tar archive");
 * ```
 */
export class ModelDataInvalidError extends Error {
  override name = "ModelDataInvalidError";
}

/**
 * Multi-model: S3 failed (unreachable, 5xx) while the gateway fetched a model. Answered as
 * SageMaker's InternalDependencyException (530).
 *
 * @example
 * ```ts
 * throw new ModelDataUnavailableError("S3 did not answer: connect ECONNREFUSED 127.0.0.1:4566");
 * ```
 */
export class ModelDataUnavailableError extends Error {
  override name = "ModelDataUnavailableError";
}

/**
 * Multi-model: the target model was still downloading or loading when the invocation's wait ran
 * out; the load goes on. Answered as SageMaker's ModelNotReadyException (429), which the AWS SDKs
 * retry.
 *
 * @example
 * ```ts
 * throw new ModelStillLoadingError("iris.tar.gz", 60_000);
 * ```
 */
export class ModelStillLoadingError extends Error {
  override name = "ModelStillLoadingError";
  constructor(targetModel: string, waitedMs: number) {
    super(`Model ${targetModel} is still being downloaded or loaded after ${Math.round(waitedMs / 1000)} s; it keeps loading: retry the request`);
  }
}
