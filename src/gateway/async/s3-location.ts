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
 * Parses `s3://bucket/key`; `undefined` when it is not one, names no bucket, or has a `.` or `..`
 * segment in its key ({@link hasDotSegment}).
 *
 * @example
 * ```ts
 * parseS3Uri("s3://bucket/a/b.json"); // { bucket: "bucket", key: "a/b.json" }
 * parseS3Uri("s3://bucket/out/../../other-bucket/x"); // undefined
 * ```
 */
export function parseS3Uri(uri: string): S3Location | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (match === null || hasDotSegment(match[2] as string)) return undefined;
  return { bucket: match[1] as string, key: match[2] as string };
}

/**
 * True when a key (or URL path) has a `.` or `..` segment, percent-encoded or not, `\` counting as
 * a separator too. S3 itself keeps such keys as they are, but an S3-compatible store or a proxy
 * that normalises paths would resolve them, and `out/../../other-bucket/x` would land in another
 * bucket (docs/async.md, "Safe locations"). The gateway refuses them wherever a key is built.
 *
 * @example
 * ```ts
 * hasDotSegment("in/%2e%2e/secret.json"); // true
 * hasDotSegment("in/v1.2/..data.json"); // false
 * ```
 */
export function hasDotSegment(path: string): boolean {
  return path.split(/[/\\]/).some((segment) => isDotSegment(segment) || isDotSegment(decodeSafely(segment)));
}

function isDotSegment(segment: string): boolean {
  return segment === "." || segment === "..";
}

function decodeSafely(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Parses an input location as SageMaker accepts it (`^(https|s3)://([^/]+)/?(.*)$`): an S3 URI,
 * or an HTTPS URL of an object: virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`) or
 * path-style (`https://s3.region.amazonaws.com/bucket/key`, and any other host, such as an S3
 * endpoint override). `undefined` when it is neither, names no object key, has a malformed
 * percent-escape or a `.` or `..` segment ({@link hasDotSegment}: in the path as sent, before any
 * URL normalisation could resolve it).
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
  if (hasDotSegment(rawPath(location))) return undefined;
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

/** The path of an https:// URL as written, without its query and fragment. */
function rawPath(url: string): string {
  const afterScheme = url.slice("https://".length);
  const slash = afterScheme.indexOf("/");
  return slash < 0 ? "" : afterScheme.slice(slash).split(/[?#]/, 1)[0] as string;
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
