import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { PassThrough } from "node:stream";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { formatS3Uri, parseS3Uri, type S3Location } from "../gateway/async/s3-location.js";

/**
 * One output file being written. Nothing appears under its final name before `commit`, so an
 * interrupted job leaves no partial `.out` behind (as SageMaker uploads only whole outputs).
 *
 * @example
 * ```ts
 * const writer = target.open("data.csv.out", "text/csv");
 * await writer.write(Buffer.from("0.9\n"));
 * await writer.commit();
 * ```
 */
export interface OutputWriter {
  write(chunk: Buffer): Promise<void>;
  commit(): Promise<void>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

/**
 * Where a job's outputs go: a local folder or an S3 prefix.
 *
 * @example
 * ```ts
 * const target = outputTarget("s3://bucket/out/", () => s3);
 * const done = await target.existing();
 * ```
 */
export interface OutputTarget {
  /** Output names (`<input>.out`, relative) that exist already: the files a resumed job skips. */
  existing(): Promise<Set<string>>;
  open(name: string, contentType: string | undefined): OutputWriter;
  /** Where `name` goes, for messages. */
  locate(name: string): string;
}

/** Parts of an S3 output: 8 MiB, one in flight (S3's minimum part is 5 MiB). */
const partBytes = 8 * 1024 * 1024;

/**
 * The target of `outputPath`: `s3://bucket/prefix` or a local folder.
 *
 * @example
 * ```ts
 * outputTarget("results/", () => s3).locate("a/b.csv.out"); // "<cwd>/results/a/b.csv.out"
 * ```
 */
export function outputTarget(outputPath: string, s3: () => S3Client): OutputTarget {
  const location = parseS3Uri(outputPath);
  return location === undefined ? localTarget(resolve(outputPath)) : s3Target(s3(), location);
}

function localTarget(root: string): OutputTarget {
  return {
    locate: (name) => join(root, ...name.split("/")),
    async existing() {
      const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
      return new Set(entries.filter((entry) => entry.isFile() && entry.name.endsWith(".out")).map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join("/")));
    },
    open(name) {
      const path = join(root, ...name.split("/"));
      const partial = `${path}.partial`;
      let stream: WriteStream | undefined;
      // A write that fails later (disk full, or the stream destroyed by abort) is reported by an
      // 'error' event: kept here and thrown by the next write or the commit.
      let failure: Error | undefined;
      const opened = async (): Promise<WriteStream> => {
        if (stream === undefined) {
          await mkdir(dirname(path), { recursive: true });
          stream = createWriteStream(partial);
          stream.on("error", (error) => (failure ??= error));
          await once(stream, "open");
        }
        if (failure !== undefined) throw failure;
        return stream;
      };
      return {
        async write(chunk) {
          const file = await opened();
          if (!file.write(chunk)) await once(file, "drain");
        },
        async commit() {
          const file = await opened();
          await new Promise<void>((done, fail) => file.end((error?: Error | null) => (error ? fail(error) : done())));
          await rename(partial, path);
        },
        async abort() {
          stream?.destroy();
          await rm(partial, { force: true });
        },
      };
    },
  };
}

function s3Target(client: S3Client, prefix: S3Location): OutputTarget {
  const base = prefix.key === "" || prefix.key.endsWith("/") ? prefix.key : `${prefix.key}/`;
  const locationOf = (name: string): S3Location => ({ bucket: prefix.bucket, key: `${base}${name}` });
  return {
    locate: (name) => formatS3Uri(locationOf(name)),
    async existing() {
      const names = new Set<string>();
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: prefix.bucket, Prefix: base, ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key?.endsWith(".out") === true) names.add(object.Key.slice(base.length));
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return names;
    },
    open(name, contentType) {
      const location = locationOf(name);
      const body = new PassThrough();
      const upload = new Upload({
        client,
        params: { Bucket: location.bucket, Key: location.key, Body: body, ...(contentType === undefined ? {} : { ContentType: contentType }) },
        partSize: partBytes,
        queueSize: 1,
        leavePartsOnError: false,
      });
      const done = upload.done();
      // The outcome is awaited in commit; until then a failure must not go unhandled.
      done.catch(() => undefined);
      return {
        async write(chunk) {
          if (!body.write(chunk)) await Promise.race([once(body, "drain"), done]);
        },
        async commit() {
          body.end();
          await done;
        },
        async abort() {
          await upload.abort().catch(() => undefined);
          body.destroy();
        },
      };
    },
  };
}
