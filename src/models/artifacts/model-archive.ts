import { createHash, randomBytes } from "node:crypto";
import { on } from "node:events";
import { createReadStream, createWriteStream, type Stats } from "node:fs";
import { chmod, link, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import { Parser, type ReadEntry } from "tar";
import { ConfigurationError, ModelArchiveError } from "../../errors.js";
import { ArchiveEntryPolicy, type PlannedEntry } from "./archive-entry-policy.js";

/**
 * Limits that stop a hostile or broken archive before it fills the disk.
 *
 * @example
 * ```ts
 * const limits: ArchiveLimits = { ...defaultArchiveLimits, maxBytes: 50 * 1024 ** 3 };
 * ```
 */
export interface ArchiveLimits {
  /** Most bytes the extracted files may hold together; checked on each header and while writing. */
  maxBytes: number;
  /** Most entries (files, directories and links) the archive may hold; checked on each header. */
  maxEntries: number;
  /** Longest entry path or link target, in UTF-8 bytes. */
  maxPathLength: number;
  /**
   * Most bytes the extracted files may hold per byte of the archive file, past the first 64 MiB
   * (which any archive may extract), checked like `maxBytes`: bounds a decompression bomb by its
   * own size.
   */
  maxExpansionRatio: number;
}

/**
 * 10 GiB, 10,000 entries, 1,024-byte paths, 100 times the archive's size: room for any model an
 * ONNX runtime can load on one instance, far below what takes a host down
 * (README.md, "Model archives", says why each).
 *
 * @example
 * ```ts
 * await extractModelArchive(archive, destination, { limits: { maxBytes: 2 * defaultArchiveLimits.maxBytes } });
 * ```
 */
export const defaultArchiveLimits: Readonly<ArchiveLimits> = Object.freeze({
  maxBytes: 10 * 1024 ** 3,
  maxEntries: 10_000,
  maxPathLength: 1024,
  maxExpansionRatio: 100,
});

/**
 * Options of {@link extractModelArchive}.
 *
 * @example
 * ```ts
 * const options: ExtractModelArchiveOptions = { limits: { maxEntries: 1000 }, log: pino() };
 * ```
 */
export interface ExtractModelArchiveOptions {
  /** Overrides for {@link defaultArchiveLimits}. */
  limits?: Partial<ArchiveLimits>;
  /** Where extraction and reuse are reported. */
  log?: Logger;
}

/**
 * Where the archive's content is, and whether this call extracted it.
 *
 * @example
 * ```ts
 * const { destination, reused }: ExtractedModelArchive = await extractModelArchive(archive, "/tmp/model");
 * ```
 */
export interface ExtractedModelArchive {
  /** Absolute path of the directory holding the archive's content. */
  destination: string;
  /** True when an earlier extraction of the same archive was kept instead of extracting again. */
  reused: boolean;
  /** Entries in the archive: files, directories and links. */
  entries: number;
  /** Bytes of file content extracted. */
  bytes: number;
}

/**
 * File the toolkit writes into every extraction directory to recognise its own work and the
 * archive it came from. An archive entry with this name is refused.
 */
/** The file an extraction leaves in its destination to recognise its own work on restart. */
export const extractionMarkerName = ".sagemaker-byoc-extraction.json";

interface ExtractionMarker {
  version: 1;
  archive: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  entries: number;
  bytes: number;
}

/**
 * Extracts a `model.tar.gz` (gzip-compressed, or a plain tar) into `destination`, refusing
 * hostile archives instead of repairing them: absolute paths, `..` components, links resolving
 * outside `destination`, device files, FIFOs and other special entries, entries written through
 * a symbolic link or appearing twice, and archives past the {@link ArchiveLimits} all throw a
 * {@link ModelArchiveError} naming the archive, the entry and the rule. So do corrupt gzip data,
 * truncated archives and files that are not tar archives.
 *
 * The archive is unpacked into a temporary directory next to `destination` and renamed into place
 * only once complete, so `destination` never holds a partial extraction; a failure removes the
 * temporary directory and leaves any earlier extraction as it was. A marker file in `destination`
 * records the archive's size, modification time and SHA-256: when they still match, the earlier
 * extraction is reused (`reused: true`) and nothing is written. `destination` must be missing,
 * empty or an earlier extraction; anything else is refused rather than replaced.
 *
 * File permission bits are kept (without setuid, setgid and sticky bits); owners and timestamps
 * are not. Every limit is checked as the archive streams by: on each entry's header (the entry
 * count, the declared sizes) and on each chunk written, so an archive past a limit is refused at
 * the first entry past it, having read and written no more than that. tar's own guard against
 * decompression bombs also applies: data that inflates to over 1000 times the compressed bytes
 * read so far is refused.
 *
 * @example
 * ```ts
 * const { destination, reused } = await extractModelArchive("/opt/ml/model/model.tar.gz", "/tmp/sagemaker-model", { log });
 * const session = await InferenceSession.create(join(destination, "model.onnx"));
 * ```
 */
export async function extractModelArchive(
  archivePath: string,
  destination: string,
  options: ExtractModelArchiveOptions = {},
): Promise<ExtractedModelArchive> {
  const archive = resolve(archivePath);
  const target = resolve(destination);
  const limits = checkLimits({ ...defaultArchiveLimits, ...options.limits });
  const log = options.log;
  const archiveStats = await statArchive(archive);
  const existing = await inspectDestination(target);

  if (existing.marker?.size === archiveStats.size && existing.marker.mtimeMs === archiveStats.mtimeMs) {
    const sha256 = await hashFile(archive);
    if (sha256 === existing.marker.sha256) {
      log?.info({ archive, destination: target, sha256 }, "Reusing the model archive extracted by an earlier start: it is unchanged");
      return { destination: target, reused: true, entries: existing.marker.entries, bytes: existing.marker.bytes };
    }
  }

  log?.info({ archive, destination: target }, "Extracting the model archive");
  const started = performance.now();
  const staging = await createStagingDirectory(target, log);
  try {
    const unpacked = await unpack(archive, archiveStats.size, staging, limits);
    const marker: ExtractionMarker = {
      version: 1,
      archive,
      size: archiveStats.size,
      mtimeMs: archiveStats.mtimeMs,
      sha256: unpacked.sha256,
      entries: unpacked.entries,
      bytes: unpacked.bytes,
    };
    await writeFile(join(staging, extractionMarkerName), `${JSON.stringify(marker, null, 2)}\n`);
    await moveIntoPlace(staging, target, existing.exists);
    log?.info(
      { archive, destination: target, entries: unpacked.entries, bytes: unpacked.bytes, ms: Math.round(performance.now() - started) },
      "Extracted the model archive",
    );
    return { destination: target, reused: false, entries: unpacked.entries, bytes: unpacked.bytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (error instanceof ConfigurationError) throw error;
    throw new ModelArchiveError(`${archive}: could not be extracted into ${target} (${(error as Error).message})`, { cause: error });
  }
}

interface Unpacked {
  entries: number;
  bytes: number;
  sha256: string;
}

async function unpack(archive: string, archiveBytes: number, root: string, limits: ArchiveLimits): Promise<Unpacked> {
  const policy = new ArchiveEntryPolicy(archive, archiveBytes, limits, new Set([extractionMarkerName]));
  const failure = new AbortController();
  const hash = createHash("sha256");
  const source = createReadStream(archive);
  // Each header is counted as the parser reads it (tar calls `filter` then, while "entry" events
  // wait for the previous entry to be written): an archive past a limit is refused as soon as the
  // parser reaches the entry past it, before the entries queued ahead of it are written.
  const countHeader = (_path: string, entry: ReadEntry | Stats): boolean => {
    if (failure.signal.aborted) return false;
    try {
      policy.count(entry as ReadEntry);
      return true;
    } catch (error) {
      failure.abort(error);
      return false;
    }
  };
  // strict: every tar warning (bad checksum, truncation, unknown format) becomes an error.
  const parser = new Parser({ strict: true, filter: countHeader });
  let bytes = 0;
  let sawEndOfArchive = false;

  // The parser can report several errors for one bad chunk: the first one ends the extraction and
  // this listener keeps the others from becoming uncaught 'error' events.
  parser.on("error", (error: unknown) => failure.abort(error));
  // Reading and parsing stop at the first failure, not once the entries parsed before it are handled.
  failure.signal.addEventListener("abort", () => {
    source.unpipe(parser);
    source.destroy();
    parser.abort(failure.signal.reason as Error);
  });
  parser.on("ignoredEntry", (entry: ReadEntry) => {
    if (!failure.signal.aborted) failure.abort(policy.refuseType(entry));
  });
  parser.on("eof", () => {
    sawEndOfArchive = true;
  });
  source.on("error", (error) => failure.abort(error));
  source.on("data", (chunk) => hash.update(chunk));
  source.pipe(parser);

  // Counts what is really written, so the limit holds without trusting header sizes (tar already
  // caps each entry's data at its declared size, and admit() refuses declared sizes past the limit).
  const countBytes = async function* (chunks: AsyncIterable<Buffer>, path: string): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      bytes += chunk.length;
      policy.checkExtractedBytes(bytes, `entry ${JSON.stringify(path)} brings`);
      yield chunk;
    }
  };
  // Parents are created once: a mkdir per file costs as much as the file (archives of many small files).
  const directories = new Set<string>();

  try {
    // The parser emits the next entry only once this one's data is consumed, so entries are
    // handled one at a time, in archive order.
    const entries = on(parser, "entry", { close: ["end"], signal: failure.signal }) as AsyncIterable<[ReadEntry]>;
    for await (const [entry] of entries) {
      const planned = policy.admit(entry);
      if (planned.kind === "file") {
        const output = join(root, planned.path);
        const parent = dirname(output);
        if (!directories.has(parent)) {
          await mkdir(parent, { recursive: true });
          directories.add(parent);
        }
        await pipeline(
          entry,
          (chunks: AsyncIterable<Buffer>) => countBytes(chunks, planned.path),
          createWriteStream(output, { flags: "wx", mode: planned.mode }),
          { signal: failure.signal },
        );
      } else {
        await create(root, planned);
        entry.resume();
      }
    }
    if (!sawEndOfArchive) throw policy.refuse("ends before its end-of-archive marker: the archive is truncated");
    policy.checkSymlinksAgainstTree();
  } catch (error) {
    throw describeFailure(policy, failure.signal.aborted ? failure.signal.reason : error);
  } finally {
    source.unpipe(parser);
    source.destroy();
  }
  return { entries: policy.entries, bytes, sha256: hash.digest("hex") };
}

async function create(root: string, planned: Exclude<PlannedEntry, { kind: "file" }>): Promise<void> {
  const output = join(root, planned.path);
  switch (planned.kind) {
    case "directory":
      await mkdir(output, { recursive: true });
      await chmod(output, planned.mode);
      return;
    case "symlink":
      await mkdir(dirname(output), { recursive: true });
      await symlink(planned.target, output);
      return;
    case "hardlink":
      await mkdir(dirname(output), { recursive: true });
      await link(join(root, planned.target), output);
      return;
  }
}

function describeFailure(policy: ArchiveEntryPolicy, error: unknown): ModelArchiveError {
  if (error instanceof ModelArchiveError) return error;
  // tar attaches `tarCode` and, for truncation, the entry being read; zlib errors carry Z_* codes.
  const { message, code, tarCode, entry } = (error ?? {}) as { message?: string; code?: string; tarCode?: string; entry?: ReadEntry };
  const detail = message ?? String(error);
  if (typeof code === "string" && code.startsWith("Z_")) {
    return policy.refuse(`the gzip data is corrupt or truncated (${detail})`, error);
  }
  if (detail.includes("Truncated input")) {
    const where = entry === undefined ? "" : ` inside entry ${JSON.stringify(entry.path)}`;
    return policy.refuse(`is truncated${where} (${detail})`, error);
  }
  if (detail.startsWith("max decompression ratio exceeded")) {
    return policy.refuse(`inflates to over 1000 times its compressed size, like a decompression bomb (${detail})`, error);
  }
  if (tarCode !== undefined) return policy.refuse(`is not a valid tar archive (${detail})`, error);
  return policy.refuse(`could not be extracted (${detail})`, error);
}

function checkLimits(limits: ArchiveLimits): ArchiveLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigurationError(`The model archive limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return limits;
}

async function statArchive(archive: string): Promise<Stats> {
  let stats: Stats;
  try {
    stats = await stat(archive);
  } catch (error) {
    throw new ModelArchiveError(`${archive}: cannot be read (${(error as Error).message})`, { cause: error });
  }
  if (!stats.isFile()) throw new ModelArchiveError(`${archive}: is not a regular file`);
  return stats;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

type Destination = { exists: false; marker?: undefined } | { exists: true; marker: ExtractionMarker | undefined };

async function inspectDestination(target: string): Promise<Destination> {
  let names: string[];
  try {
    names = await readdir(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { exists: false };
    if (code === "ENOTDIR") throw foreignDestination(target);
    throw new ConfigurationError(`Cannot read the model extraction directory ${target} (${(error as Error).message})`, { cause: error });
  }
  if (names.length === 0) return { exists: true, marker: undefined };
  if (!names.includes(extractionMarkerName)) throw foreignDestination(target);
  return { exists: true, marker: await readMarker(join(target, extractionMarkerName)) };
}

function foreignDestination(target: string): ConfigurationError {
  return new ConfigurationError(
    `The model extraction directory ${target} already exists and does not hold an extracted model archive; remove it or choose another extraction directory`,
  );
}

async function readMarker(path: string): Promise<ExtractionMarker | undefined> {
  try {
    const marker = JSON.parse(await readFile(path, "utf8")) as Partial<ExtractionMarker>;
    const valid =
      marker.version === 1 &&
      typeof marker.size === "number" &&
      typeof marker.mtimeMs === "number" &&
      typeof marker.sha256 === "string" &&
      typeof marker.entries === "number" &&
      typeof marker.bytes === "number";
    return valid ? (marker as ExtractionMarker) : undefined;
  } catch {
    // An unreadable marker only means the extraction cannot be reused: it is replaced.
    return undefined;
  }
}

/**
 * Makes the temporary directory next to `target` (same file system, so the final rename is
 * atomic), after removing those a crashed earlier start left behind: a restart loop must not
 * fill the disk with partial extractions. Two processes must not extract into one directory.
 */
async function createStagingDirectory(target: string, log: Logger | undefined): Promise<string> {
  const parent = dirname(target);
  const partialPrefix = `${basename(target)}.partial-`;
  const retiredPrefix = `${basename(target)}.old-`;
  try {
    await mkdir(parent, { recursive: true });
    for (const name of await readdir(parent)) {
      if (!name.startsWith(partialPrefix) && !name.startsWith(retiredPrefix)) continue;
      await rm(join(parent, name), { recursive: true, force: true });
      log?.warn({ path: join(parent, name) }, "Removed a partial model extraction left by an earlier start");
    }
    const staging = await mkdtemp(join(parent, partialPrefix));
    await chmod(staging, 0o755);
    return staging;
  } catch (error) {
    throw new ConfigurationError(`Cannot create the model extraction directory in ${parent} (${(error as Error).message})`, { cause: error });
  }
}

async function moveIntoPlace(staging: string, target: string, replace: boolean): Promise<void> {
  try {
    if (!replace) {
      await rename(staging, target);
      return;
    }
    // rename(2) cannot swap two directories, so the old one steps aside first; should the process
    // die in between, the next start finds no extraction and extracts again.
    const retired = `${target}.old-${randomBytes(4).toString("hex")}`;
    await rename(target, retired);
    try {
      await rename(staging, target);
    } catch (error) {
      await rename(retired, target);
      throw error;
    }
    await rm(retired, { recursive: true, force: true });
  } catch (error) {
    throw new ConfigurationError(`Cannot move the extracted model archive into ${target} (${(error as Error).message})`, { cause: error });
  }
}
