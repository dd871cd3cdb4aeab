/**
 * The catalogue of every error the toolkit answers with: the codes of its JSON error body
 * (`{"error": {"code", "message"}}`, from the model server, from the gateway's own routes and in
 * async failure objects) and the SageMaker Runtime API error types of the gateway. The README's
 * status-code tables are generated from it (`node --import tsx scripts/error-codes-table.ts`), and
 * a test fails when the code answers with a code or a status this file does not list.
 */
import type { ErrorStatusCode } from "./errors.js";

/** What the catalogue says about one code. */
export interface ErrorCodeEntry {
  /** The HTTP status it is answered with; `undefined` for codes found only in async failure objects. */
  readonly status: ErrorStatusCode | undefined;
  /** When it happens, for the README. */
  readonly when: string;
}

/**
 * Every `error.code` of the toolkit's JSON error body, with its HTTP status. Handlers may add
 * their own with `InferenceError`; these are the toolkit's.
 *
 * @example
 * ```ts
 * errorCodes.PAYLOAD_TOO_LARGE.status; // 413
 * ```
 */
export const errorCodes = {
  BAD_REQUEST: {
    status: 400,
    when: "a malformed body or request: wrong tensor shape or dtype, a ragged array, an unknown input or target model, a CSV cell that is not a number, JSON with both `instances` and `inputs`, a malformed HTTP request; on the gateway, an unknown `status` filter",
  },
  BODY_READ_FAILED: { status: 400, when: "the request body could not be read (the client aborted the upload)" },
  EMPTY_BODY: { status: 400, when: "an empty JSON, JSON Lines, CSV or .npy body" },
  INVALID_JSON: { status: 400, when: "a JSON or JSON Lines body that does not parse; the message gives the position" },
  INVALID_CONTENT_ENCODING: { status: 400, when: "a gzip, deflate or br body that does not decompress" },
  INVALID_NPY: { status: 400, when: "a corrupt or unsupported .npy body" },
  INVALID_RECORDIO: { status: 400, when: "an `application/x-recordio` body whose RecordIO framing does not parse" },
  MALFORMED_CONTENT_TYPE: { status: 400, when: "a Content-Type header that does not parse" },
  MULTIPART_NO_BOUNDARY: { status: 400, when: "`multipart/form-data` without a valid boundary parameter" },
  MULTIPART_LIMIT: { status: 400, when: "a multipart body over `BYOC_MULTIPART_MAX_*`" },
  MALFORMED_MULTIPART: { status: 400, when: "a multipart body that does not parse" },
  NOT_FOUND: { status: 404, when: "an unknown route, or `POST /invocations` on a multi-model endpoint; on the gateway, an unknown async inference id" },
  METHOD_NOT_ALLOWED: { status: 405, when: "a wrong method for `/ping` or `/invocations` (with `Allow`)" },
  NOT_ACCEPTABLE: { status: 406, when: "nothing Accept allows can be produced, or the prediction cannot be encoded in the chosen type" },
  PAYLOAD_TOO_LARGE: { status: 413, when: "a body over `BYOC_MAX_PAYLOAD_BYTES`, declared or streamed (the connection is then closed)" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, when: "no codec decodes the Content-Type, or the Content-Encoding is not gzip, deflate or br" },
  INTERNAL_ERROR: {
    status: 500,
    when: "a handler threw something other than an `InferenceError`, or an `InferenceError` whose status is not 400-599; the message names the inference id, the log has the error; in async failure objects, an unexpected failure of the async worker",
  },
  INFERENCE_ERROR: { status: 500, when: "an `InferenceError` without a code; the ONNX run failed; a worker stopped while running the request; an input the default `predictFn` cannot feed" },
  INVALID_PREDICTION: { status: 500, when: "the prediction cannot be encoded (a circular reference, not a valid NDArray)" },
  INVALID_HANDLER_OUTPUT: { status: 500, when: "`outputFn` or `transformFn` returned something other than a string, bytes or `{ body, contentType }`" },
  INVALID_CUSTOM_ATTRIBUTES: { status: 500, when: "`ctx.responseCustomAttributes` is not at most 1024 visible ASCII characters" },
  STAGE_VALUE_NOT_CLONEABLE: {
    status: 500,
    when: "a pipeline stage with `workers` of its own took or gave a value that cannot cross threads (a function, a class with private fields); the message names the stage",
  },
  RECORD_COUNT_MISMATCH: {
    status: 500,
    when: "batch transform (`SAGEMAKER_BATCH=true`): the answer holds another number of records than the request (lines of CSV or JSON Lines, RecordIO records); docs/batch.md",
  },
  NO_PREDICT_STEP: { status: 500, when: "a model served by `transformFn` was asked for a separate predict step (it decodes, predicts and encodes in one call)" },
  MODEL_NOT_FOUND: { status: 404, when: "multi-model mode: the model named in `/models/{name}` is not loaded (SageMaker then loads it); KServe V2: a path naming a model the server does not serve, or a model version (models are not versioned)" },
  MODEL_ALREADY_LOADED: { status: 409, when: "multi-model mode: `POST /models` for a model that is already loaded" },
  INVALID_MODEL_URL: { status: 400, when: "multi-model mode: `POST /models` with a `url` outside the models root, or that is not a directory" },
  INSUFFICIENT_MEMORY: { status: 507, when: "multi-model mode: the model does not fit in `BYOC_MODEL_MEMORY_BUDGET_BYTES`, even with every idle model unloaded (SageMaker then unloads models and retries)" },
  MODEL_NOT_READY: { status: 503, when: "the model is loading or failed to load (also `/ping`)" },
  OVERLOADED: { status: 503, when: "more than `BYOC_MAX_CONCURRENT_REQUESTS` in flight; `Retry-After: 1`" },
  TOO_MANY_CONNECTIONS: { status: 503, when: "`BYOC_MAX_CONNECTIONS` connections are open and all are busy with a request: the new connection is answered and closed; `Retry-After: 1`" },
  TIMEOUT: { status: 504, when: "past the time limit; the handler's `ctx.signal` fires; in async failure objects, past InvocationTimeoutSeconds" },
  INPUT_UNREADABLE: { status: undefined, when: "async: the input object could not be read (missing, access denied, over `BYOC_ASYNC_MAX_PAYLOAD_BYTES`)" },
  OUTPUT_UNWRITABLE: { status: undefined, when: "async: the output could not be written to `S3OutputPath`" },
  CONTAINER_DROPPED_REQUEST: { status: undefined, when: "async: the container closed the connection without answering, three times" },
  REQUEST_EXPIRED: { status: undefined, when: "async: not processed within RequestTTLSeconds" },
  UNSAFE_LOCATION: { status: undefined, when: "async: a request queued by an older version names an S3 key with a `.` or `..` segment; nothing is written" },
} as const satisfies Record<string, ErrorCodeEntry>;

/**
 * A code of {@link errorCodes}.
 *
 * @example
 * ```ts
 * const code: ErrorCode = "NOT_ACCEPTABLE";
 * ```
 */
export type ErrorCode = keyof typeof errorCodes;

/**
 * A code answered over HTTP, so with a status.
 *
 * @example
 * ```ts
 * const code: AnsweredErrorCode = "TIMEOUT";
 * ```
 */
export type AnsweredErrorCode = { [Code in ErrorCode]: (typeof errorCodes)[Code]["status"] extends number ? Code : never }[ErrorCode];

/**
 * The code and status an error of `code` is answered with, as the error constructors take them.
 *
 * @example
 * ```ts
 * new InferenceError("Too many requests", catalogued("OVERLOADED")); // 503 OVERLOADED
 * ```
 */
export function catalogued<Code extends AnsweredErrorCode>(code: Code): { readonly code: Code; readonly statusCode: (typeof errorCodes)[Code]["status"] } {
  return { code, statusCode: errorCodes[code].status };
}

/**
 * The SageMaker Runtime API error types the gateway answers with, in the service's restJson1 shape
 * (`x-amzn-ErrorType` header, `Message` in the body), with the statuses of the service's API model
 * (docs/sagemaker-contract.md).
 *
 * @example
 * ```ts
 * runtimeApiErrors.ModelError.status; // 424
 * ```
 */
export const runtimeApiErrors = {
  ValidationError: {
    status: 400,
    when: "a request SageMaker would refuse: unknown endpoint name, bad header, inference id reused with other parameters, body over 6 MiB; multi-model: TargetModel missing, not in S3 or not a model archive",
  },
  UnknownOperationException: { status: 404, when: "a path or method the SageMaker Runtime API does not have" },
  ModelError: { status: 424, when: "the container answered 4xx/5xx (`OriginalStatusCode`, `OriginalMessage`, `LogStreamArn`), or did not answer within 60 s (`OriginalStatusCode` 0)" },
  ModelNotReadyException: { status: 429, when: "multi-model: the target model is still downloading or loading after 60 s; it goes on loading, and the AWS SDKs retry" },
  InternalFailure: { status: 500, when: "anything unexpected, such as a failed write to the queue; the message names the request id in the gateway's log" },
  ServiceUnavailable: { status: 503, when: "the container cannot be reached or its model is not ready" },
  InternalDependencyException: { status: 530, when: "multi-model: S3 failed while the gateway fetched the target model" },
} as const satisfies Record<string, ErrorCodeEntry>;
