import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { checkSignature, type SignatureProblem } from "./sigv4.js";

/**
 * The only credentials the test S3 server accepts: it checks each request's SigV4 signature
 * against this secret (s3rver itself checks only that the access key exists).
 */
export const s3Credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** One HTTP request s3rver received: `url` is the path and query (`/bucket/key?partNumber=2&uploadId=...`). */
export interface S3Request {
  readonly method: string;
  readonly url: string;
}

/**
 * A real S3-protocol server (s3rver) on loopback, storing objects in a temporary directory, and a
 * real S3 client pointed at it. s3rver does not verify SigV4 signatures (it only looks the access
 * key up), so s3rver's request handler runs behind a check that signs each request again with the
 * AWS SDK's own signer and the expected secret ({@link s3Credentials}): a request signed with
 * another secret gets S3's 403 `SignatureDoesNotMatch`. `stop()` and `restart()` keep the port
 * and the directory, to simulate an outage and the recovery.
 */
export interface TestS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly client: S3Client;
  readonly bucket: string;
  /** Every request the server received, in order, refused ones included (a real signal: what reached the wire). */
  readonly requests: S3Request[];
  /** The requests of `method` for `key` (query included in `url`). */
  requestsFor(method: string, key: string): S3Request[];
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  /** The object's bytes and content type, or `undefined` when it does not exist. */
  get(key: string): Promise<{ body: Buffer; contentType: string | undefined } | undefined>;
  exists(key: string): Promise<boolean>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestS3(bucket = "async-bucket"): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "byoc-s3rver-"));
  const requests: S3Request[] = [];
  // s3rver's own handler, without its listener: the server below checks signatures first.
  const s3rver = new S3rver({ silent: true, directory }).callback();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push({ method: request.method ?? "", url: request.url ?? "" });
    checkSignature(request, undefined, s3Credentials, { service: "s3", uriEscapePath: false }).then(
      (problem) => (problem === undefined ? s3rver(request, response) : refuse(request, response, problem)),
      (error: unknown) => refuse(request, response, { code: "SignatureDoesNotMatch", message: String(error) }),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, forcePathStyle: true, region: "us-east-1", credentials: s3Credentials, maxAttempts: 1 });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const get = async (key: string) => {
    try {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { body: Buffer.from(await (answer.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()), contentType: answer.ContentType };
    } catch (error) {
      if ((error as Error).name === "NoSuchKey") return undefined;
      throw error;
    }
  };
  return {
    endpoint,
    port,
    client,
    bucket,
    requests,
    requestsFor(method, key) {
      const path = `/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
      return requests.filter((request) => request.method === method && (request.url === path || request.url.startsWith(`${path}?`)));
    },
    async put(key, body, contentType = "application/octet-stream") {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },
    get,
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw error;
      }
    },
    async stop() {
      if (!server.listening) return;
      // An outage drops the open connections too (the clients keep idle ones alive).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    async restart() {
      if (server.listening) return;
      server.listen(port, "127.0.0.1");
      await once(server, "listening");
    },
    async close() {
      client.destroy();
      if (server.listening) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** S3's answer to a badly signed request: 403 with the error code in XML; the body is not read, so the connection closes. */
function refuse(request: IncomingMessage, response: ServerResponse, problem: SignatureProblem): void {
  request.resume();
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${problem.code}</Code><Message>${problem.message}</Message></Error>`;
  response.writeHead(403, { "content-type": "application/xml", connection: "close" }).end(xml);
}
