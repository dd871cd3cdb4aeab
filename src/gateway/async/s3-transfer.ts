import { GetObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Readable } from "node:stream";
import type { AwsEndpoints } from "../../config/async-config.js";
import { PayloadLimitError } from "../errors.js";
import { hasDotSegment, type S3Location } from "./s3-location.js";

/**
 * Credentials for the AWS clients, when not the SDK's default chain (environment, profile, instance role).
 *
 * @example
 * ```ts
 * const credentials: AwsCredentials = { accessKeyId: "test", secretAccessKey: "test" };
 * ```
 */
export type AwsCredentials = S3ClientConfig["credentials"];

/** Output bodies larger than this go up in parts of this size (S3's minimum part is 5 MiB). */
const partBytes = 8 * 1024 * 1024;

/**
 * Attempts per S3 request, the SDK's own retries: a transient error in one request (one
 * UploadPart of a large output) is retried in place instead of restarting the whole upload.
 */
const sdkAttempts = 3;

/**
 * An S3 client for the configured region and endpoint, with a few SDK retries per request
 * ({@link sdkAttempts}). Outages that outlast them are the async worker's: it retries whole
 * operations with backoff (retry.ts).
 *
 * @example
 * ```ts
 * const s3 = createS3Client(config);
 * ```
 */
export function createS3Client(endpoints: AwsEndpoints, credentials?: AwsCredentials): S3Client {
  return new S3Client({
    region: endpoints.region,
    forcePathStyle: endpoints.s3ForcePathStyle,
    maxAttempts: sdkAttempts,
    ...(endpoints.s3Endpoint === undefined ? {} : { endpoint: endpoints.s3Endpoint }),
    ...(credentials === undefined ? {} : { credentials }),
  });
}

/**
 * Reads an object into ONE buffer allocated at its announced size: chunks are copied in as they
 * arrive and dropped, never collected and concatenated, so a 1 GB payload costs 1 GB. The buffer
 * owns its whole ArrayBuffer, so it can move to a worker thread without a copy.
 * Rejects with {@link PayloadLimitError} before reading anything when the object is too large,
 * and without any request when the key has a `.` or `..` segment ({@link hasDotSegment}).
 *
 * @example
 * ```ts
 * const { body, contentType } = await downloadObject(s3, { bucket: "b", key: "in.json" }, 1 << 30, signal);
 * ```
 */
export async function downloadObject(
  client: S3Client,
  location: S3Location,
  maxBytes: number,
  signal: AbortSignal,
): Promise<{ body: Buffer; contentType: string | undefined }> {
  checkKey(location);
  const answer = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }), { abortSignal: signal });
  const stream = answer.Body as Readable | undefined;
  const size = answer.ContentLength ?? 0;
  if (size > maxBytes) {
    stream?.destroy();
    throw new PayloadLimitError(size, maxBytes);
  }
  const body = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  if (stream !== undefined) {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (offset + chunk.length > size) {
        stream.destroy();
        throw new Error(`S3 sent more than the ${size} bytes it announced for ${location.key}`);
      }
      chunk.copy(body, offset);
      offset += chunk.length;
    }
  }
  // A short body is a dropped connection: mark it as such so the worker retries.
  if (offset !== size) throw Object.assign(new Error(`S3 sent ${offset} of ${size} bytes of ${location.key}`), { code: "ECONNRESET" });
  return { body, contentType: answer.ContentType };
}

/**
 * Writes an object: one PutObject up to 8 MiB, in 8 MiB parts above (`@aws-sdk/lib-storage`,
 * one part in flight at a time to bound memory). A multipart upload that fails is aborted; one
 * interrupted by SIGKILL leaves its parts in the bucket until a lifecycle rule removes them. A key
 * with a `.` or `..` segment is refused without any request (a record queued by an older version
 * may hold one).
 *
 * @example
 * ```ts
 * await uploadObject(s3, { bucket: "b", key: "out/id.out" }, result.body, "application/json", signal);
 * ```
 */
export async function uploadObject(
  client: S3Client,
  location: S3Location,
  body: Uint8Array | string,
  contentType: string,
  signal: AbortSignal,
): Promise<void> {
  checkKey(location);
  const upload = new Upload({
    client,
    params: { Bucket: location.bucket, Key: location.key, Body: body, ContentType: contentType },
    partSize: partBytes,
    queueSize: 1,
    leavePartsOnError: false,
  });
  const onAbort = (): void => void upload.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await upload.done();
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function checkKey(location: S3Location): void {
  if (hasDotSegment(location.key)) {
    throw new Error(`Refusing the S3 key ${JSON.stringify(location.key)} of bucket ${location.bucket}: it has a '.' or '..' segment`);
  }
}
