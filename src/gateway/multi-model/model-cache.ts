import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { extractModelArchive, type ArchiveLimits } from "../../models/artifacts/model-archive.js";
import { ModelArchiveError } from "../../errors.js";
import { ModelDataInvalidError, ModelDataNotFoundError, ModelDataUnavailableError } from "../errors.js";
import { formatS3Uri, type S3Location } from "../async/s3-location.js";

/**
 * What the model cache needs.
 *
 * @example
 * ```ts
 * const options: ModelCacheOptions = { root: "/opt/ml/models", maxBytes: 20 * 1024 ** 3, s3, archiveLimits: {}, isLoaded: () => false, log, now: Date.now };
 * ```
 */
export interface ModelCacheOptions {
  /** The models' directory: each model in `<root>/<model name>/model`, as SageMaker lays them out on an instance. */
  readonly root: string;
  /** Bytes the extracted models may hold on disk together; past it, least recently used models are removed. */
  readonly maxBytes: number;
  readonly s3: S3Client;
  readonly archiveLimits: Partial<ArchiveLimits>;
  /** Whether the container holds the model: models it does not hold are removed from disk first. */
  readonly isLoaded: (modelName: string) => boolean;
  readonly log: Logger;
  readonly now: () => number;
}

interface CacheEntry {
  readonly source: string;
  readonly bytes: number;
  lastUsed: number;
  /** Loads under way that read its files: never removed meanwhile. */
  users: number;
}

/** Written beside each model's `model/` folder: where it came from and its size, read again at start. */
const entryFileName = "cache-entry.json";
/** Where archives are downloaded before they are extracted; a name no model gets (model names are hex). */
const downloadsDirName = ".downloads";

/**
 * The gateway's copy of the models on local disk, as SageMaker keeps them on an instance
 * (docs/multi-model.md, "Local gateway"): a model is fetched from S3 and extracted into
 * `<root>/<model name>/model` the first time it is used, with the toolkit's safe extractor, and
 * kept for later loads. Past `maxBytes`, models are removed from disk least recently used first,
 * those the container does not hold before those it does; a model whose files a load is reading
 * is never removed. What the directory holds is indexed again at start, so a restarted gateway
 * does not download its models again.
 *
 * @example
 * ```ts
 * const cache = await ModelCache.open(options);
 * const result = await cache.use("3f9a...", { bucket: "models", key: "mme/iris.tar.gz" }, (dir) => host.load("3f9a...", dir, "iris.tar.gz", signal));
 * ```
 */
export class ModelCache {
  readonly #options: ModelCacheOptions;
  readonly #entries = new Map<string, CacheEntry>();
  /** Downloads under way, by model name: a second request for the same model waits for the first. */
  readonly #fetching = new Map<string, Promise<void>>();

  private constructor(options: ModelCacheOptions) {
    this.#options = options;
  }

  /** Opens the cache at `options.root`, indexing the models an earlier run left there. */
  static async open(options: ModelCacheOptions): Promise<ModelCache> {
    const cache = new ModelCache(options);
    await mkdir(options.root, { recursive: true });
    await rm(join(options.root, downloadsDirName), { recursive: true, force: true });
    await cache.#index();
    return cache;
  }

  /** Bytes the cached models hold on disk. */
  get usedBytes(): number {
    let used = 0;
    for (const entry of this.#entries.values()) used += entry.bytes;
    return used;
  }

  /** Whether `modelName` is on disk, from `location`. */
  has(modelName: string, location: S3Location): boolean {
    return this.#entries.get(modelName)?.source === formatS3Uri(location);
  }

  /**
   * Runs `during` with the model's directory on disk, fetching it from `location` first unless it
   * is there already; the files stay while `during` runs. Rejects with
   * {@link ModelDataNotFoundError} when there is no such object (or it may not be read),
   * {@link ModelDataInvalidError} when it is not a safe model archive or larger than the cache, and
   * {@link ModelDataUnavailableError} when S3 fails.
   */
  async use<T>(modelName: string, location: S3Location, signal: AbortSignal, during: (dir: string) => Promise<T>): Promise<T> {
    while (!this.has(modelName, location)) {
      let fetching = this.#fetching.get(modelName);
      if (fetching === undefined) {
        fetching = this.#fetch(modelName, location, signal).finally(() => this.#fetching.delete(modelName));
        this.#fetching.set(modelName, fetching);
      }
      await fetching;
    }
    const entry = this.#entries.get(modelName) as CacheEntry;
    entry.lastUsed = this.#options.now();
    entry.users++;
    try {
      return await during(this.modelDir(modelName));
    } finally {
      entry.users--;
    }
  }

  /** `<root>/<model name>/model`. */
  modelDir(modelName: string): string {
    return join(this.#options.root, modelName, "model");
  }

  async #fetch(modelName: string, location: S3Location, signal: AbortSignal): Promise<void> {
    const { log, root } = this.#options;
    const source = formatS3Uri(location);
    const started = performance.now();
    const downloads = join(root, downloadsDirName);
    await mkdir(downloads, { recursive: true });
    const archive = join(downloads, `${modelName}-${randomBytes(4).toString("hex")}.tar.gz`);
    try {
      const archiveBytes = await this.#download(location, archive, signal);
      await this.#makeRoom(archiveBytes, modelName);
      await this.#remove(modelName, "replaced by another object");
      const extracted = await extractModelArchive(archive, this.modelDir(modelName), { limits: this.#options.archiveLimits }).catch((error: unknown) => {
        if (error instanceof ModelArchiveError) throw new ModelDataInvalidError(`${source} is not a model archive the gateway can extract safely: ${error.message}`, { cause: error });
        throw error;
      });
      await writeFile(join(root, modelName, entryFileName), `${JSON.stringify({ source, bytes: extracted.bytes })}\n`);
      this.#entries.set(modelName, { source, bytes: extracted.bytes, lastUsed: this.#options.now(), users: 0 });
      log.info({ model: modelName, source, archiveBytes, bytes: extracted.bytes, ms: Math.round(performance.now() - started), cacheBytes: this.usedBytes }, "model fetched from S3 into the cache");
      await this.#makeRoom(0, modelName);
    } finally {
      await rm(archive, { force: true });
    }
  }

  /** Streams the object into `file`; resolves to its size. */
  async #download(location: S3Location, file: string, signal: AbortSignal): Promise<number> {
    const source = formatS3Uri(location);
    let answer;
    try {
      answer = await this.#options.s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }), { abortSignal: signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (error as Error).name;
      if (name === "NoSuchKey" || name === "NotFound" || name === "AccessDenied" || status === 404 || status === 403) {
        throw new ModelDataNotFoundError(location, name, { cause: error });
      }
      throw new ModelDataUnavailableError(`S3 failed to send ${source}: ${(error as Error).message}`, { cause: error });
    }
    const size = answer.ContentLength ?? 0;
    if (size > this.#options.maxBytes) {
      (answer.Body as Readable | undefined)?.destroy();
      throw new ModelDataInvalidError(`${source} is ${size} bytes, more than the gateway's model cache holds (${this.#options.maxBytes} bytes, BYOC_MME_CACHE_MAX_BYTES)`);
    }
    try {
      await pipeline(answer.Body as Readable, createWriteStream(file), { signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new ModelDataUnavailableError(`S3 stopped sending ${source}: ${(error as Error).message}`, { cause: error });
    }
    const written = (await stat(file)).size;
    if (written !== size) throw new ModelDataUnavailableError(`S3 sent ${written} of the ${size} bytes of ${source}`);
    return size;
  }

  /**
   * Removes models from disk until `needed` more bytes fit: least recently used first, models the
   * container does not hold before those it does, never one a load is reading. When that is not
   * enough (loads under way hold the rest), the cache goes over its limit for now and says so.
   */
  async #makeRoom(needed: number, keep: string): Promise<void> {
    const { maxBytes, isLoaded, log } = this.#options;
    const candidates = [...this.#entries.entries()]
      .filter(([name, entry]) => name !== keep && entry.users === 0)
      .sort(([nameA, a], [nameB, b]) => Number(isLoaded(nameA)) - Number(isLoaded(nameB)) || a.lastUsed - b.lastUsed);
    for (const [name] of candidates) {
      if (this.usedBytes + needed <= maxBytes) return;
      await this.#remove(name, `least recently used, to make room for ${keep}`);
    }
    if (this.usedBytes + needed > maxBytes) log.warn({ model: keep, neededBytes: needed, cacheBytes: this.usedBytes, maxBytes }, "the model cache is over its limit while loads under way use its models");
  }

  async #remove(modelName: string, reason: string): Promise<void> {
    const entry = this.#entries.get(modelName);
    this.#entries.delete(modelName);
    await rm(join(this.#options.root, modelName), { recursive: true, force: true });
    if (entry !== undefined) this.#options.log.info({ model: modelName, source: entry.source, reason, freedBytes: entry.bytes, cacheBytes: this.usedBytes }, "model removed from the cache");
  }

  /** Reads back the models an earlier run fetched; anything else in the directory is left alone. */
  async #index(): Promise<void> {
    const { root, now } = this.#options;
    for (const name of await readdir(root)) {
      const file = join(root, name, entryFileName);
      let recorded: { source?: unknown; bytes?: unknown };
      try {
        recorded = JSON.parse(await readFile(file, "utf8")) as typeof recorded;
      } catch {
        continue;
      }
      if (typeof recorded.source !== "string" || typeof recorded.bytes !== "number") continue;
      const modified = await stat(file).then((stats) => stats.mtimeMs, () => now());
      this.#entries.set(name, { source: recorded.source, bytes: recorded.bytes, lastUsed: modified, users: 0 });
    }
    if (this.#entries.size > 0) this.#options.log.info({ models: this.#entries.size, cacheBytes: this.usedBytes, root }, "model cache indexed");
  }
}
