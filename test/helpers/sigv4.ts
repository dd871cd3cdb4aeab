/**
 * Checks the AWS Signature Version 4 of a request a test server received, with the AWS SDK's own
 * signer (@smithy/signature-v4): the request is signed again with the expected secret over the
 * headers the client signed, and the two signatures must match. The S3 and SNS stand-ins refuse
 * what this rejects, so a client with a wrong secret fails against them as against AWS.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";

/** The secret a stand-in accepts. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** How the service signs: S3 does not escape the path again (`uriEscapePath: false`), other services do. */
export interface SigningService {
  readonly service: string;
  readonly uriEscapePath: boolean;
}

/** Why a request is refused, in the words and code of the service's own error. */
export interface SignatureProblem {
  readonly code: "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch";
  readonly message: string;
}

const authorizationPattern =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/**
 * What is wrong with the request's signature, or `undefined` when it is right. `body` is the
 * request body when the caller has read it: without an `x-amz-content-sha256` header the
 * signature covers its hash. S3 always sends that header (its value, even `UNSIGNED-PAYLOAD` or
 * a streaming marker, is what was signed), so S3 requests are checked without reading the body.
 *
 * @example
 * ```ts
 * const problem = await checkSignature(request, undefined, { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, { service: "s3", uriEscapePath: false });
 * ```
 */
export async function checkSignature(
  request: IncomingMessage,
  body: Buffer | undefined,
  credentials: SigningCredentials,
  signing: SigningService,
): Promise<SignatureProblem | undefined> {
  const authorization = request.headers["authorization"];
  if (authorization === undefined) return { code: "AccessDenied", message: "The request is not signed (no Authorization header)" };
  const match = authorizationPattern.exec(authorization);
  if (match === null) return { code: "AccessDenied", message: "The Authorization header is not an AWS4-HMAC-SHA256 signature" };
  const [, accessKeyId, , region, service, signedHeaderList, signature] = match as unknown as [string, string, string, string, string, string, string];
  if (accessKeyId !== credentials.accessKeyId) return { code: "InvalidAccessKeyId", message: `Unknown access key ${accessKeyId}` };
  if (service !== signing.service) return { code: "SignatureDoesNotMatch", message: `The credential scope names service ${service}, not ${signing.service}` };
  const amzDate = request.headers["x-amz-date"];
  if (typeof amzDate !== "string" || !/^\d{8}T\d{6}Z$/.test(amzDate)) return { code: "AccessDenied", message: "No valid x-amz-date header" };
  const declaredHash = request.headers["x-amz-content-sha256"];
  if (body !== undefined && typeof declaredHash === "string" && /^[0-9a-f]{64}$/.test(declaredHash) && declaredHash !== createHash("sha256").update(body).digest("hex")) {
    return { code: "SignatureDoesNotMatch", message: "x-amz-content-sha256 does not match the body" };
  }

  const signedHeaders = signedHeaderList.split(";");
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) return { code: "SignatureDoesNotMatch", message: `Signed header ${name} is missing` };
    headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const url = new URL(request.url ?? "/", "http://stand-in");
  const signer = new SignatureV4({ credentials, region, service, sha256: NodeSha256, uriEscapePath: signing.uriEscapePath, applyChecksum: false });
  const signed = await signer.sign(
    {
      method: request.method ?? "GET",
      protocol: "http:",
      hostname: url.hostname,
      path: url.pathname,
      query: parseQuery(url.search),
      headers,
      ...(body === undefined ? {} : { body }),
    },
    { signingDate: parseAmzDate(amzDate), signableHeaders: new Set(signedHeaders) },
  );
  const expected = authorizationPattern.exec(String(signed.headers["authorization"]));
  if (expected?.[5] !== signedHeaderList) return { code: "SignatureDoesNotMatch", message: `Signed headers ${signedHeaderList} cannot all be signed` };
  return expected[6] === signature
    ? undefined
    : { code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match the signature you provided. Check your key and signing method." };
}

/** The query as the SDK held it before sending: decoded values, repeated keys as arrays, a key without `=` as null. */
function parseQuery(search: string): Record<string, string | string[] | null> {
  const query: Record<string, string | string[] | null> = {};
  for (const pair of search.replace(/^\?/, "").split("&")) {
    if (pair === "") continue;
    const separator = pair.indexOf("=");
    const key = decodeURIComponent(separator === -1 ? pair : pair.slice(0, separator));
    const value = separator === -1 ? null : decodeURIComponent(pair.slice(separator + 1));
    const existing = query[key];
    if (existing === undefined || value === null) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : existing === null ? value : [existing, value];
  }
  return query;
}

/** `20300101T120000Z` as a Date. */
function parseAmzDate(amzDate: string): Date {
  return new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
}

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape the signer takes. */
class NodeSha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", toBytes(secret));
  }

  update(data: Uint8Array): void {
    this.#hash.update(data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
