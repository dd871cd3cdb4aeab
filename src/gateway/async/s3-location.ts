/**
 * An S3 object address: bucket and key.
 *
 * @example
 * ```ts
 * const location: S3Location = { bucket: "my-bucket", key: "input/payload.json" };
 * ```
 */
export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

const amazonHost = /^(?:(?<bucket>.+)\.)?s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$/;

/**
 * Parses `s3://bucket/key`; `undefined` when it is not one (or names no bucket).
 *
 * @example
 * ```ts
 * parseS3Uri("s3://bucket/a/b.json"); // { bucket: "bucket", key: "a/b.json" }
 * ```
 */
export function parseS3Uri(uri: string): S3Location | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (match === null) return undefined;
  return { bucket: match[1] as string, key: match[2] as string };
}

/**
 * Parses an input location as SageMaker accepts it (`^(https|s3)://([^/]+)/?(.*)$`): an S3 URI,
 * or an HTTPS URL of an object: virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`) or
 * path-style (`https://s3.region.amazonaws.com/bucket/key`, and any other host, such as an S3
 * endpoint override). `undefined` when it is neither, names no object key or has a malformed
 * percent-escape.
 *
 * @example
 * ```ts
 * parseInputLocation("https://bucket.s3.eu-west-1.amazonaws.com/in/x.csv"); // { bucket: "bucket", key: "in/x.csv" }
 * ```
 */
export function parseInputLocation(location: string): S3Location | undefined {
  if (location.startsWith("s3://")) {
    const parsed = parseS3Uri(location);
    return parsed === undefined || parsed.key === "" ? undefined : parsed;
  }
  if (!location.startsWith("https://")) return undefined;
  let url: URL;
  let path: string;
  try {
    url = new URL(location);
    // A malformed escape (`%E0%A4%A`) is a bad location, not a gateway failure.
    path = decodeURIComponent(url.pathname.slice(1));
  } catch {
    return undefined;
  }
  const virtualHostedBucket = amazonHost.exec(url.hostname)?.groups?.["bucket"];
  if (virtualHostedBucket !== undefined) return path === "" ? undefined : { bucket: virtualHostedBucket, key: path };
  const slash = path.indexOf("/");
  if (slash <= 0 || slash === path.length - 1) return undefined;
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

/**
 * `s3://bucket/key`.
 *
 * @example
 * ```ts
 * formatS3Uri({ bucket: "b", key: "out/1.out" }); // "s3://b/out/1.out"
 * ```
 */
export function formatS3Uri(location: S3Location): string {
  return `s3://${location.bucket}/${location.key}`;
}

/**
 * Appends a file name to an S3 path (`s3://bucket/prefix`), with exactly one slash between.
 *
 * @example
 * ```ts
 * joinS3Path("s3://bucket/out/", "abc.out"); // "s3://bucket/out/abc.out"
 * ```
 */
export function joinS3Path(path: string, name: string): string {
  return `${path.replace(/\/+$/, "")}/${name}`;
}
