import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { ConfigurationError } from "../errors.js";
import { formatS3Uri, parseS3Uri, type S3Location } from "../gateway/async/s3-location.js";
import type { TransformInputLocation } from "./job.js";

/**
 * One input file of a job: a local file or an S3 object.
 *
 * @example
 * ```ts
 * const [first] = await listInputs({ dataType: "S3Prefix", uri: "data/" }, s3);
 * first.name; // "part-1.csv": its output is part-1.csv.out
 * ```
 */
export interface InputObject {
  /** The path below the input prefix or folder, with `/` separators; the output is `<name>.out`. */
  readonly name: string;
  /** Where it is, for messages: a local path or `s3://bucket/key`. */
  readonly location: string;
  readonly size: number;
  open(signal: AbortSignal): Promise<Readable>;
}

/**
 * The input files of a job, sorted by name (docs/batch.md, "Input"):
 * - `S3Prefix` with an `s3://` URI: every object whose key starts with the prefix (folder
 *   markers, keys ending with `/`, excluded), named by the key past the prefix's last `/`;
 * - `S3Prefix` with a local path: every file under the folder (or that one file);
 * - `ManifestFile`: the JSON manifest `[{"prefix": "..."}, "relative/key", ...]`, local or in S3,
 *   whose prefix may be `s3://` or a local folder (relative to the manifest's own folder); each
 *   entry is named by its relative path.
 *
 * @throws ConfigurationError when the input cannot be found or the manifest is malformed.
 * @example
 * ```ts
 * const inputs = await listInputs({ dataType: "ManifestFile", uri: "s3://bucket/job.manifest" }, () => s3);
 * ```
 */
export async function listInputs(input: TransformInputLocation, s3: () => S3Client): Promise<InputObject[]> {
  const objects = input.dataType === "ManifestFile" ? await listManifest(input.uri, s3) : await listPrefix(input.uri, s3);
  return objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function listPrefix(uri: string, s3: () => S3Client): Promise<InputObject[]> {
  const location = parseS3Uri(uri);
  if (location !== undefined) return listS3Prefix(s3(), location);
  const root = resolve(uri);
  const info = await stat(root).catch(() => {
    throw new ConfigurationError(`The input ${uri} does not exist`);
  });
  if (info.isFile()) return [localFile(root, root.split(sep).pop() as string, info.size)];
  const files: InputObject[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.push(localFile(path, relative(root, path).split(sep).join("/"), (await stat(path)).size));
  }
  return files;
}

async function listS3Prefix(client: S3Client, prefix: S3Location): Promise<InputObject[]> {
  const objects: InputObject[] = [];
  const base = prefix.key.slice(0, prefix.key.lastIndexOf("/") + 1);
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: prefix.bucket, Prefix: prefix.key, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined || object.Key.endsWith("/")) continue;
      objects.push(s3Object(client, { bucket: prefix.bucket, key: object.Key }, object.Key.slice(base.length), object.Size ?? 0));
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return objects;
}

async function listManifest(uri: string, s3: () => S3Client): Promise<InputObject[]> {
  const location = parseS3Uri(uri);
  const text = location === undefined ? await readFile(uri, "utf8").catch(() => undefined) : await readS3Text(s3(), location);
  if (text === undefined) throw new ConfigurationError(`The manifest ${uri} cannot be read`);
  const { prefix, entries } = parseManifest(text, uri);
  const s3Prefix = parseS3Uri(prefix);
  if (s3Prefix !== undefined) {
    const client = s3();
    return Promise.all(
      entries.map(async (entry) => {
        const key = `${s3Prefix.key}${entry}`;
        const head = await client.send(new HeadObjectCommand({ Bucket: s3Prefix.bucket, Key: key })).catch(() => {
          throw new ConfigurationError(`The manifest ${uri} lists ${formatS3Uri({ bucket: s3Prefix.bucket, key })}, which cannot be read`);
        });
        return s3Object(client, { bucket: s3Prefix.bucket, key }, entry, head.ContentLength ?? 0);
      }),
    );
  }
  const folder = isAbsolute(prefix) || location !== undefined ? prefix : join(dirname(resolve(uri)), prefix);
  return Promise.all(
    entries.map(async (entry) => {
      const path = join(folder, entry);
      const info = await stat(path).catch(() => {
        throw new ConfigurationError(`The manifest ${uri} lists ${path}, which does not exist`);
      });
      return localFile(path, entry, info.size);
    }),
  );
}

/** The manifest format of `TransformS3DataSource`: a prefix object first, then relative paths. */
function parseManifest(text: string, uri: string): { prefix: string; entries: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`The manifest ${uri} is not JSON: ${(error as Error).message}`);
  }
  const [head, ...rest] = Array.isArray(parsed) ? (parsed as unknown[]) : [];
  const prefix = typeof head === "object" && head !== null ? (head as { prefix?: unknown }).prefix : undefined;
  if (typeof prefix !== "string" || !rest.every((entry) => typeof entry === "string" && entry !== "")) {
    throw new ConfigurationError(`The manifest ${uri} must be a JSON array: [{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]`);
  }
  return { prefix, entries: rest as string[] };
}

async function readS3Text(client: S3Client, location: S3Location): Promise<string | undefined> {
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    return await (answer.Body as { transformToString(): Promise<string> }).transformToString();
  } catch {
    return undefined;
  }
}

function localFile(path: string, name: string, size: number): InputObject {
  return { name, location: path, size, open: async () => createReadStream(path) };
}

function s3Object(client: S3Client, location: S3Location, name: string, size: number): InputObject {
  return {
    name,
    location: formatS3Uri(location),
    size,
    open: async (signal) => {
      const answer = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }), { abortSignal: signal });
      return answer.Body as Readable;
    },
  };
}
