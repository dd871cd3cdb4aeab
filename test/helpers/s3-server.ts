import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";

/** The credentials s3rver checks SigV4 signatures against. */
export const s3Credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** One HTTP request s3rver received: `url` is the path and query (`/bucket/key?partNumber=2&uploadId=...`). */
export interface S3Request {
  readonly method: string;
  readonly url: string;
}

/**
 * A real S3-protocol server (s3rver) on loopback, storing objects in a temporary directory, and a
 * real S3 client pointed at it. `stop()` and `restart()` keep the port and the directory, to
 * simulate an outage and the recovery.
 */
export interface TestS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly client: S3Client;
  readonly bucket: string;
  /** Every request the server received, in order (a real signal: what reached the wire). */
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
  const record = (running: S3rver): void => {
    running.httpServer.on("request", (request: IncomingMessage) => requests.push({ method: request.method ?? "", url: request.url ?? "" }));
  };
  let server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
  const { port } = (await server.run());
  record(server);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, forcePathStyle: true, region: "us-east-1", credentials: s3Credentials, maxAttempts: 1 });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  let running = true;
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
      if (!running) return;
      running = false;
      // An outage drops the open connections too (the clients keep idle ones alive).
      const closed = server.close();
      server.httpServer.closeAllConnections();
      await closed;
    },
    async restart() {
      if (running) return;
      server = new S3rver({ address: "127.0.0.1", port, silent: true, directory });
      await server.run();
      record(server);
      running = true;
    },
    async close() {
      client.destroy();
      if (running) {
        const closed = server.close();
        server.httpServer.closeAllConnections();
        await closed;
      }
      running = false;
      await rm(directory, { recursive: true, force: true });
    },
  };
}
