import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { invocationTimeoutLimits, requestTtlLimits } from "../config/async-config.js";
import { headerValue } from "../http/sagemaker-headers.js";
import { inlineBodyRefused, validationError } from "./errors.js";
import { hasDotSegment, parseInputLocation } from "./async/s3-location.js";

/**
 * An InvokeEndpointAsync request after validation, with the defaults filled in.
 *
 * @example
 * ```ts
 * const input = parseAsyncInvocation(req.headers, { requestTtlSeconds: 21600, invocationTimeoutSeconds: 900 });
 * ```
 */
export interface AsyncInvocationInput {
  readonly inputLocation: string;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly customAttributes: string | undefined;
  readonly inferenceId: string;
  readonly requestTtlSeconds: number;
  readonly invocationTimeoutSeconds: number;
}

/**
 * The real-time headers InvokeEndpoint validates.
 *
 * @example
 * ```ts
 * const { inferenceId, customAttributes }: RealtimeInvocationHeaders = parseRealtimeHeaders(req.headers);
 * ```
 */
export interface RealtimeInvocationHeaders {
  readonly inferenceId: string | undefined;
  readonly customAttributes: string | undefined;
  /** `X-Amzn-SageMaker-Target-Model`: the model of a multi-model endpoint, relative to its ModelDataUrl. */
  readonly targetModel: string | undefined;
}

// botocore's shapes: InferenceId "\A\S[\p{Print}]*\z" (1-64), Header "\p{ASCII}*" (≤ 1024),
// CustomAttributesHeader ≤ 1024, InputLocationHeader "^(https|s3)://([^/]+)/?(.*)$" (1-1024).
const inferenceIdPattern = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;
// TargetModelHeader: "\A\S[\p{Print}]*\z", 1-1024.
const targetModelPattern = /^[\x21-\x7e][\x20-\x7e]{0,1023}$/;
// The inference id names the output and failure objects (`<id>.out`): without a separator it is
// one key segment under the configured path, never a path (docs/async.md, "Safe locations").
const keySeparators = /[/\\]/;
const asciiPattern = /^[\x00-\x7f]*$/;
const maxHeaderLength = 1024;

/**
 * Validates the headers of `POST /endpoints/{name}/async-invocations` as SageMaker does, throwing
 * the ValidationError it would answer (docs/async.md): InputLocation required (s3:// or
 * https://), RequestTTLSeconds 60-21600, InvocationTimeoutSeconds 1-3600, inference id 1-64
 * printable characters (generated when absent). `S3OutputPathExtension`, `Filename` and an
 * inline body are newer API features this gateway refuses rather than ignores.
 *
 * @example
 * ```ts
 * const input = parseAsyncInvocation({ "x-amzn-sagemaker-inputlocation": "s3://b/k" }, { requestTtlSeconds: 21600, invocationTimeoutSeconds: 900 });
 * ```
 */
export function parseAsyncInvocation(
  headers: IncomingHttpHeaders,
  defaults: { readonly requestTtlSeconds: number; readonly invocationTimeoutSeconds: number },
  bodyBytes = 0,
): AsyncInvocationInput {
  for (const [name, member] of [
    ["x-amzn-sagemaker-s3outputpathextension", "s3OutputPathExtension"],
    ["x-amzn-sagemaker-filename", "filename"],
  ] as const) {
    const value = headerValue(headers, name);
    if (value !== undefined) throw validationError(member, value, "This local gateway does not support this member; outputs are named <inference id>.out");
  }
  if (bodyBytes > 0) throw inlineBodyRefused(`${bodyBytes} bytes`);
  const inputLocation = headerValue(headers, "x-amzn-sagemaker-inputlocation");
  if (inputLocation === undefined) throw validationError("inputLocation", undefined, "Member must not be null");
  if (hasDotSegment(inputLocation.replace(/^[a-z0-9]+:\/\/[^/]*/i, ""))) {
    throw validationError("inputLocation", inputLocation, "Member must not have '.' or '..' path segments (this gateway refuses them)");
  }
  if (inputLocation.length > maxHeaderLength || parseInputLocation(inputLocation) === undefined) {
    throw validationError("inputLocation", inputLocation, "Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$ and name an object");
  }
  const given = headerValue(headers, "x-amzn-sagemaker-inference-id");
  checkInferenceId(given);
  if (given !== undefined && keySeparators.test(given)) {
    throw validationError("inferenceId", given, "Member must not contain '/' or '\\': the inference id names the output object (this gateway refuses them)");
  }
  return {
    inputLocation,
    contentType: asciiHeader(headers, "x-amzn-sagemaker-content-type", "contentType"),
    accept: asciiHeader(headers, "x-amzn-sagemaker-accept", "accept"),
    customAttributes: asciiHeader(headers, "x-amzn-sagemaker-custom-attributes", "customAttributes"),
    inferenceId: given ?? randomUUID(),
    requestTtlSeconds: integerHeader(headers, "x-amzn-sagemaker-requestttlseconds", "requestTTLSeconds", requestTtlLimits, defaults.requestTtlSeconds),
    invocationTimeoutSeconds: integerHeader(
      headers,
      "x-amzn-sagemaker-invocationtimeoutseconds",
      "invocationTimeoutSeconds",
      invocationTimeoutLimits,
      defaults.invocationTimeoutSeconds,
    ),
  };
}

/**
 * Validates the SageMaker headers of a real-time `POST /endpoints/{name}/invocations`.
 *
 * @example
 * ```ts
 * const { inferenceId } = parseRealtimeHeaders(req.headers);
 * ```
 */
export function parseRealtimeHeaders(headers: IncomingHttpHeaders): RealtimeInvocationHeaders {
  const inferenceId = headerValue(headers, "x-amzn-sagemaker-inference-id");
  checkInferenceId(inferenceId);
  const targetModel = headerValue(headers, "x-amzn-sagemaker-target-model");
  if (targetModel !== undefined) {
    if (!targetModelPattern.test(targetModel)) {
      throw validationError("targetModel", targetModel, "Member must have length between 1 and 1024 and satisfy regular expression pattern: \\A\\S[\\p{Print}]*\\z");
    }
    // It names an S3 key under the ModelDataUrl prefix: a `..` segment could leave it (docs/async.md, "Safe locations").
    if (hasDotSegment(targetModel)) throw validationError("targetModel", targetModel, "Member must not have '.' or '..' path segments (this gateway refuses them)");
  }
  return { inferenceId, customAttributes: asciiHeader(headers, "x-amzn-sagemaker-custom-attributes", "customAttributes"), targetModel };
}


function checkInferenceId(value: string | undefined): void {
  if (value !== undefined && !inferenceIdPattern.test(value)) {
    throw validationError("inferenceId", value, "Member must have length between 1 and 64 and satisfy regular expression pattern: \\A\\S[\\p{Print}]*\\z");
  }
}

function asciiHeader(headers: IncomingHttpHeaders, name: string, member: string): string | undefined {
  const value = headerValue(headers, name);
  if (value === undefined) return undefined;
  if (value.length > maxHeaderLength) throw validationError(member, value, `Member must have length less than or equal to ${maxHeaderLength}`);
  if (!asciiPattern.test(value)) throw validationError(member, value, "Member must satisfy regular expression pattern: \\p{ASCII}*");
  return value;
}

function integerHeader(
  headers: IncomingHttpHeaders,
  name: string,
  member: string,
  limits: { readonly min: number; readonly max: number },
  fallback: number,
): number {
  const raw = headerValue(headers, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value)) throw validationError(member, raw, "Member must be an integer");
  if (value < limits.min) throw validationError(member, raw, `Member must have value greater than or equal to ${limits.min}`);
  if (value > limits.max) throw validationError(member, raw, `Member must have value less than or equal to ${limits.max}`);
  return value;
}
