import { createHash } from "node:crypto";
import { readdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Logger } from "pino";
import { BadRequestError, InsufficientMemoryError, ModelAlreadyLoadedError, ModelNotFoundError } from "../errors.js";
import type { ArchiveLimits } from "../models/artifacts/model-archive.js";
import { resolveModelSource, type ModelSource } from "../models/model-source.js";
import type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
import type { DataPlane, ModelStatus } from "./data-plane.js";
import type { InlineLane } from "./inline-lane.js";
import type { InlineLaneFactory } from "./single-model.js";
import type { Readiness } from "./readiness.js";
import type { InvokeOptions, WorkerPool } from "./worker-pool.js";
import type { LoadReport } from "./worker-protocol.js";

/**
 * One loaded (or loading) model of a multi-model server.
 *
 * @example
 * ```ts
 * const { modelName, modelUrl } = registry.describe("m1");
 * ```
 */
export interface RegisteredModel {
  readonly modelName: string;
  readonly modelUrl: string;
  /** Measured at load: the growth of resident memory it caused, at least the size of its files. */
  readonly memoryBytes: number;
  readonly loadMs: number;
}

interface Entry {
  readonly name: string;
  readonly url: string;
  state: "loading" | "loaded" | "unloading";
  /** Settles when the load finished (rejects when it failed). */
  readonly loaded: Promise<void>;
  memoryBytes: number;
  loadMs: number;
  lastUsed: number;
  /** Its inline lane, open, when the model is tiny enough for the HTTP thread (docs/inline-lane.md). */
  lane: InlineLane | undefined;
  /** Requests its inline lane is running: such a model is never unloaded to make room either. */
  inlineRequests: number;
}

/**
 * What the registry needs.
 *
 * @example
 * ```ts
 * const options: ModelRegistryOptions = { pool, modelsRoot: "/opt/ml/models", memoryBudgetBytes: 8 << 30, extractRoot, archiveLimits: {}, sagemakerProgram: undefined, fallbackHandlers: undefined, drainMs: 25_000, log, now: Date.now };
 * ```
 */
export interface ModelRegistryOptions {
  readonly pool: WorkerPool;
  /** `POST /models` may load only from inside this directory. */
  readonly modelsRoot: string;
  readonly memoryBudgetBytes: number;
  /** Where a `model.tar.gz` inside a model's directory is unpacked, one folder per model. */
  readonly extractRoot: string;
  readonly archiveLimits: Partial<ArchiveLimits>;
  /** `SAGEMAKER_PROGRAM`, looked for under each model's `code/`. */
  readonly sagemakerProgram: string | undefined;
  /** The server's `--handlers`, for models that carry none of their own. */
  readonly fallbackHandlers: string | undefined;
  /** How long an unload waits for the model's requests under way. */
  readonly drainMs: number;
  readonly log: Logger;
  readonly now: () => number;
  /** Told of every load's outcome (the metrics count loads). */
  readonly onModelLoad?: (name: string, outcome: "success" | "failure") => void;
  /** Gives a tiny model an inline lane, as a single-model endpoint's gets (docs/inline-lane.md); none when unset. */
  readonly inlineLane?: InlineLaneFactory | undefined;
}

/** Entries listed from a model directory to estimate its size before it loads; the estimate only decides what to unload ahead. */
const maxEstimateEntries = 10_000;
const defaultPageSize = 100;
const maxPageSize = 1000;

/**
 * The models of a multi-model endpoint (docs/multi-model.md): loads them on demand, one copy each
 * on one worker, within a memory budget, and unloads them when asked or when room is needed. A
 * tiny model also gets a copy on the HTTP thread, which runs its requests that arrive alone
 * (docs/inline-lane.md); that copy is charged to the budget as much as the worker's.
 *
 * - A `url` outside the models root is refused before anything is read.
 * - Two loads of one model at once share one load.
 * - Memory is what each load measured (at least the size of the model's files). When a model would not fit, idle models (no request under
 *   way) are unloaded, least recently used first; a model that still does not fit is a 507, and
 *   SageMaker unloads models itself and retries. A model serving a request is never unloaded to
 *   make room.
 * - Every load (time, memory), eviction (and why) and unload is logged.
 *
 * @example
 * ```ts
 * const registry = new ModelRegistry(options);
 * await registry.load("m1", "/opt/ml/models/m1/model");
 * const result = await registry.invoke("m1", request, signal);
 * ```
 */
export class ModelRegistry implements DataPlane {
  readonly #options: ModelRegistryOptions;
  readonly #entries = new Map<string, Entry>();
  /** Loads (with their room-making) run one at a time, so the budget is reasoned about one model at a time. */
  #loading: Promise<unknown> = Promise.resolve();
  #started = false;
  #failure: Error | undefined;

  constructor(options: ModelRegistryOptions) {
    this.#options = options;
    const started = (): boolean => this.#started;
    const failure = (): Error | undefined => this.#failure;
    this.readiness = {
      get ready() {
        return started();
      },
      get failure() {
        return failure();
      },
    };
  }

  /** Ready once the workers are up: a multi-model endpoint is healthy with no model loaded. */
  readonly readiness: Readiness;

  /** Starts the workers. */
  async start(): Promise<void> {
    try {
      await this.#options.pool.start();
      this.#started = true;
    } catch (error) {
      this.#failure = error as Error;
      throw error;
    }
  }

  /** Memory the loaded models measured, together. */
  get usedBytes(): number {
    let used = 0;
    for (const entry of this.#entries.values()) if (entry.state !== "unloading") used += entry.memoryBytes;
    return used;
  }

  models(): ModelStatus[] {
    return [...this.#entries.values()].sort((a, b) => a.name.localeCompare(b.name)).map((entry) => this.#status(entry));
  }

  model(name: string): ModelStatus | undefined {
    const entry = this.#entries.get(name);
    return entry === undefined ? undefined : this.#status(entry);
  }

  /**
   * Loads the model at `url` as `name`. Resolves once it serves; rejects with a 400 for a `url`
   * outside the models root, 409 when `name` is loaded already, 507 when it does not fit.
   */
  async load(name: string, url: string): Promise<RegisteredModel> {
    const existing = this.#entries.get(name);
    if (existing?.state === "loaded") throw new ModelAlreadyLoadedError(`Model ${name} is already loaded`);
    if (existing?.state === "loading") {
      await existing.loaded;
      return this.describe(name);
    }
    // The entry exists before the first await, so a second load of the same name joins this one.
    const run = (async () => {
      const dir = await this.#checkUrl(url);
      const queued = this.#loading.then(() => this.#load(name, url, dir));
      this.#loading = queued.catch(() => undefined);
      await queued;
    })();
    const entry: Entry = { name, url, state: "loading", loaded: run, memoryBytes: 0, loadMs: 0, lastUsed: this.#options.now(), lane: undefined, inlineRequests: 0 };
    entry.loaded.catch(() => undefined);
    this.#entries.set(name, entry);
    try {
      await run;
    } catch (error) {
      if (this.#entries.get(name) === entry) this.#entries.delete(name);
      this.#options.onModelLoad?.(name, "failure");
      throw error;
    }
    this.#options.onModelLoad?.(name, "success");
    return this.describe(name);
  }

  /** The model's name and url; 404 when it is not loaded. */
  describe(name: string): RegisteredModel {
    const entry = this.#entries.get(name);
    if (entry === undefined || entry.state !== "loaded") throw new ModelNotFoundError(`Model ${name} is not loaded`);
    return { modelName: entry.name, modelUrl: entry.url, memoryBytes: entry.memoryBytes, loadMs: entry.loadMs };
  }

  /**
   * The loaded models in name order, a page at a time: `nextPageToken` is where the next page
   * starts, absent on the last page.
   */
  list(pageSize = defaultPageSize, pageToken?: string): { models: RegisteredModel[]; nextPageToken: string | undefined } {
    const size = Math.min(Math.max(1, Math.floor(pageSize)), maxPageSize);
    const after = pageToken === undefined ? undefined : Buffer.from(pageToken, "base64url").toString("utf8");
    const names = [...this.#entries.values()]
      .filter((entry) => entry.state === "loaded")
      .map((entry) => entry.name)
      .sort()
      .filter((name) => after === undefined || name > after);
    const page = names.slice(0, size);
    const last = page[page.length - 1];
    return {
      models: page.map((name) => this.describe(name)),
      nextPageToken: names.length > size && last !== undefined ? Buffer.from(last, "utf8").toString("base64url") : undefined,
    };
  }

  /** Unloads `name` once its requests under way finished (up to the drain time); 404 when it is not loaded. */
  async unload(name: string, reason = "requested"): Promise<void> {
    const entry = this.#entries.get(name);
    if (entry === undefined || entry.state === "unloading") throw new ModelNotFoundError(`Model ${name} is not loaded`);
    if (entry.state === "loading") await entry.loaded;
    await this.#unload(entry, reason);
  }

  /** Runs a request on a loaded model (waiting for one that is loading); 404 when it is not loaded. */
  invoke(name: string, request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult> {
    const entry = this.#entries.get(name);
    if (entry === undefined || entry.state === "unloading") return Promise.reject(new ModelNotFoundError(`Model ${name} is not loaded`));
    if (entry.state === "loading") return entry.loaded.then(() => this.#invokeLoaded(entry, request, signal, options));
    return this.#invokeLoaded(entry, request, signal, options);
  }

  /** True while the model's small requests run on the HTTP thread when they arrive alone (docs/inline-lane.md). */
  runsInline(name: string): boolean {
    return this.#entries.get(name)?.lane?.open === true;
  }

  /** Releases the models' copies on the HTTP thread (the server is stopping); the pool releases the rest. */
  async close(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((entry) => entry.lane?.close() ?? Promise.resolve()));
  }

  /** Called on every request: no `await` of its own, so a request costs the HTTP thread no more promises than the pool's. */
  #invokeLoaded(entry: Entry, request: InvocationRequest, signal: AbortSignal, options: InvokeOptions | undefined): Promise<InvocationResult> {
    entry.lastUsed = this.#options.now();
    const lane = entry.lane;
    if (lane?.takes(request, options?.requestsInFlight) === true) return this.#invokeInline(entry, lane, request, signal);
    return this.#options.pool.invoke(entry.name, request, signal, options);
  }

  async #invokeInline(entry: Entry, lane: InlineLane, request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    entry.inlineRequests++;
    try {
      return await lane.invoke(request, signal);
    } finally {
      entry.inlineRequests--;
    }
  }

  async #load(name: string, url: string, dir: string): Promise<void> {
    const { pool, log, memoryBudgetBytes } = this.#options;
    const estimate = await sizeOnDisk(dir);
    await this.#makeRoom(estimate, name, "to make room for a model about to load");
    const source = await resolveModelSource({
      name,
      modelDir: dir,
      extractDir: join(this.#options.extractRoot, createHash("sha256").update(name).digest("hex").slice(0, 32)),
      archiveLimits: this.#options.archiveLimits,
      handlersPath: undefined,
      sagemakerProgram: this.#options.sagemakerProgram,
      log,
    });
    const withFallback = source.handlersFile === undefined ? { ...source, handlersFile: this.#options.fallbackHandlers } : source;
    const report = await pool.load(withFallback, 1);
    const entry = this.#entries.get(name);
    if (entry === undefined) return;
    const laneStarted = performance.now();
    entry.lane = await this.#openLane(withFallback, report);
    const inlineLoadMs = performance.now() - laneStarted;
    // Resident-memory growth misses what the allocator reuses (memory a model unloaded before left
    // behind), so the model's own files set a floor: its weights are in memory once loaded. The
    // copy on the HTTP thread, loaded with the same settings, is charged as much again.
    entry.memoryBytes = (entry.lane === undefined ? 1 : 2) * Math.max(report.memoryBytes, estimate);
    entry.loadMs = report.loadMs;
    if (this.usedBytes > memoryBudgetBytes) await this.#makeRoom(0, name, "the model just loaded needs more memory than estimated");
    if (this.usedBytes > memoryBudgetBytes) {
      await pool.unload(name, 0);
      await entry.lane?.close();
      throw new InsufficientMemoryError(
        `Model ${name} needs ${entry.memoryBytes} bytes; with every idle model unloaded, ${this.usedBytes - entry.memoryBytes} of the budget of ${memoryBudgetBytes} bytes are still in use`,
      );
    }
    entry.state = "loaded";
    log.info(
      {
        model: name,
        url,
        loadMs: Math.round(report.loadMs),
        memoryBytes: entry.memoryBytes,
        measuredBytes: report.memoryBytes,
        inline: entry.lane !== undefined,
        inlineLoadMs: Math.round(inlineLoadMs * 10) / 10,
        usedBytes: this.usedBytes,
        budgetBytes: memoryBudgetBytes,
      },
      "model loaded into the multi-model registry",
    );
  }

  /** The model's inline lane once open, or `undefined` when it has none or its runs are too long for the HTTP thread. */
  async #openLane(source: ModelSource, report: LoadReport): Promise<InlineLane | undefined> {
    const lane = this.#options.inlineLane?.(source, report);
    if (lane === undefined) return undefined;
    await lane.start();
    return lane.open ? lane : undefined;
  }

  /** Unloads idle models, least recently used first, until `needed` more bytes fit in the budget. */
  async #makeRoom(needed: number, loading: string, why: string): Promise<void> {
    const { memoryBudgetBytes, pool } = this.#options;
    const idle = [...this.#entries.values()]
      .filter((entry) => entry.state === "loaded" && entry.name !== loading)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of idle) {
      if (this.usedBytes + needed <= memoryBudgetBytes) return;
      if (pool.pendingFor(entry.name) > 0 || entry.inlineRequests > 0) continue;
      await this.#unload(entry, `evicted (least recently used) ${why}: ${loading}`);
    }
    if (this.usedBytes + needed > memoryBudgetBytes && needed > 0) {
      throw new InsufficientMemoryError(
        `Model ${loading} needs about ${needed} bytes; with every idle model unloaded, ${this.usedBytes} of the budget of ${memoryBudgetBytes} bytes are still in use`,
      );
    }
  }

  async #unload(entry: Entry, reason: string): Promise<void> {
    entry.state = "unloading";
    try {
      await this.#options.pool.unload(entry.name, this.#options.drainMs);
      await entry.lane?.close();
    } finally {
      this.#entries.delete(entry.name);
    }
    this.#options.log.info({ model: entry.name, reason, freedBytes: entry.memoryBytes, usedBytes: this.usedBytes }, "model unloaded");
  }

  report(name: string): LoadReport | undefined {
    return this.#entries.get(name)?.state === "loaded" ? this.#options.pool.report(name) : undefined;
  }

  #status(entry: Entry): ModelStatus {
    return { name: entry.name, ready: entry.state === "loaded", signature: this.#options.pool.report(entry.name)?.signature };
  }

  /**
   * The model directory `url` names, when it lies inside the models root: checked on the path as
   * written (before anything is read), then on the real path (a symlink cannot lead out).
   */
  async #checkUrl(url: string): Promise<string> {
    const root = resolve(this.#options.modelsRoot);
    const refuse = (why: string): BadRequestError =>
      new BadRequestError(`url ${JSON.stringify(url)} ${why}; models load only from inside ${root}`, { code: "INVALID_MODEL_URL" });
    if (typeof url !== "string" || url === "" || !isAbsolute(url)) throw refuse("is not an absolute path");
    const dir = resolve(url);
    if (!isInside(dir, root)) throw refuse("is outside the models root");
    let real: string;
    let realRoot: string;
    try {
      [real, realRoot] = await Promise.all([realpath(dir), realpath(root)]);
    } catch {
      throw refuse("does not exist");
    }
    if (!isInside(real, realRoot)) throw refuse("leads outside the models root through a link");
    if (!(await stat(real)).isDirectory()) throw refuse("is not a directory");
    return real;
  }
}

function isInside(path: string, root: string): boolean {
  const fromRoot = relative(root, path);
  return fromRoot !== "" && fromRoot !== ".." && !fromRoot.startsWith(`..${sep}`) && !isAbsolute(fromRoot);
}

/** Bytes of the files under `dir` (not following links), up to {@link maxEstimateEntries} entries. */
async function sizeOnDisk(dir: string): Promise<number> {
  let total = 0;
  let seen = 0;
  const pending = [dir];
  while (pending.length > 0 && seen < maxEstimateEntries) {
    const current = pending.pop() as string;
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (++seen > maxEstimateEntries) break;
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) total += (await stat(path).catch(() => ({ size: 0 }))).size;
    }
  }
  return total;
}
