import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { InferenceTimeoutError } from "../../errors.js";
import type { InvocationRequest, InvocationResult } from "../../pipeline/inference-pipeline.js";
import { ModelInvocationError, ModelStillLoadingError } from "../errors.js";
import { parseS3Uri, type S3Location } from "../async/s3-location.js";
import type { ModelCache } from "./model-cache.js";
import type { ModelHost } from "./model-host.js";

/**
 * What the multi-model front end needs.
 *
 * @example
 * ```ts
 * const options: MultiModelEndpointOptions = { modelDataUrl: "s3://models/mme/", containerModelsDir: "/opt/ml/models", cache, host, log, now: Date.now };
 * ```
 */
export interface MultiModelEndpointOptions {
  /** CreateModel's `ModelDataUrl`: the S3 prefix TargetModel is relative to. */
  readonly modelDataUrl: string;
  /** Where the container sees the cache's directory: `url` of `POST /models` is `<it>/<model name>/model`. */
  readonly containerModelsDir: string;
  readonly cache: ModelCache;
  readonly host: ModelHost;
  readonly log: Logger;
  readonly now: () => number;
  /** How long an invocation waits for its model to download and load before ModelNotReadyException; SageMaker's is 60 s. */
  readonly loadWaitMs?: number;
  /** How long a load may go on in the background; SageMaker's is 360 s. */
  readonly loadLimitMs?: number;
}

interface LoadedModel {
  readonly targetModel: string;
  lastUsed: number;
  /** Invocations under way: such a model is never unloaded to make room. */
  inFlight: number;
}

const defaultLoadWaitMs = 60_000;
const defaultLoadLimitMs = 360_000;

/**
 * What SageMaker's front end does for a multi-model endpoint (docs/multi-model.md, "Local
 * gateway"), for `InvokeEndpoint` with a `TargetModel`:
 *
 * 1. fetch `<ModelDataUrl>/<TargetModel>` from S3 into the cache, unless it is there already;
 * 2. `POST /models` to the container with an opaque model name ({@link modelNameFor}) and the
 *    TargetModel in `X-Amzn-SageMaker-Target-Model`; on 507, unload the least recently used model
 *    this front end loaded that has no request under way (`DELETE /models/{name}`) and try again;
 * 3. `POST /models/{name}/invoke`. A 404 there (the container unloaded the model by itself) loads
 *    it again and retries the invocation once.
 *
 * Concurrent first calls for one model fetch and load it once. An invocation waits for its model
 * up to 60 s, then gets {@link ModelStillLoadingError} while the load goes on (up to 360 s).
 *
 * @example
 * ```ts
 * const endpoint = new MultiModelEndpoint(options);
 * const result = await endpoint.invoke({ ...request, targetModel: "iris.tar.gz" }, signal);
 * ```
 */
export class MultiModelEndpoint {
  readonly #options: MultiModelEndpointOptions;
  readonly #prefix: S3Location;
  readonly #loaded = new Map<string, LoadedModel>();
  /** Loads under way, by model name: concurrent first calls share one. */
  readonly #loading = new Map<string, Promise<void>>();
  readonly #names = new Map<string, string>();

  constructor(options: MultiModelEndpointOptions) {
    const prefix = parseS3Uri(options.modelDataUrl);
    if (prefix === undefined) throw new TypeError(`ModelDataUrl ${options.modelDataUrl} is not an s3:// prefix`);
    this.#options = options;
    this.#prefix = prefix;
  }

  /** Whether the container holds `modelName` as far as this front end knows. */
  isLoaded(modelName: string): boolean {
    return this.#loaded.has(modelName);
  }

  /** The S3 object a TargetModel names: the ModelDataUrl prefix joined with it. */
  locationOf(targetModel: string): S3Location {
    const base = this.#prefix.key === "" || this.#prefix.key.endsWith("/") ? this.#prefix.key : `${this.#prefix.key}/`;
    return { bucket: this.#prefix.bucket, key: `${base}${targetModel}` };
  }

  /**
   * The opaque `model_name` the container gets for a TargetModel: 40 hex digits of its SHA-256,
   * safe as a directory and a URL segment whatever the TargetModel holds.
   */
  modelNameFor(targetModel: string): string {
    let name = this.#names.get(targetModel);
    if (name === undefined) {
      name = createHash("sha256").update(targetModel).digest("hex").slice(0, 40);
      if (this.#names.size >= 100_000) this.#names.clear();
      this.#names.set(targetModel, name);
    }
    return name;
  }

  /** Runs `request` on its `targetModel`, loading it first when needed. */
  async invoke(request: InvocationRequest & { readonly targetModel: string }, signal: AbortSignal): Promise<InvocationResult> {
    const name = this.modelNameFor(request.targetModel);
    for (let attempt = 1; ; attempt++) {
      // A loaded model, the usual case, goes on without a wait's promise and timer.
      if (!this.#loaded.has(name)) await this.#ready(name, request.targetModel, signal);
      const model = this.#loaded.get(name);
      if (model !== undefined) {
        model.lastUsed = this.#options.now();
        model.inFlight++;
      }
      try {
        return await this.#options.host.invoke(name, request, signal);
      } catch (error) {
        const unloaded = error instanceof ModelInvocationError && error.statusCode === 404;
        if (!unloaded || attempt > 1 || signal.aborted) throw error;
        this.#options.log.info({ model: name, targetModel: request.targetModel }, "the container no longer holds the model; loading it again");
        this.#loaded.delete(name);
      } finally {
        if (model !== undefined) model.inFlight--;
      }
    }
  }

  /** Waits for the model to be loaded, starting its load unless one is under way; up to the load wait. */
  async #ready(name: string, targetModel: string, signal: AbortSignal): Promise<void> {
    let loading = this.#loading.get(name);
    if (loading === undefined) {
      loading = this.#load(name, targetModel).finally(() => this.#loading.delete(name));
      loading.catch(() => undefined);
      this.#loading.set(name, loading);
    }
    const waitMs = this.#options.loadWaitMs ?? defaultLoadWaitMs;
    const waitStarted = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stopWaiting = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ModelStillLoadingError(targetModel, waitMs)), waitMs);
      // Past the invocation's own time limit while the model still loads: SageMaker's answer is ModelNotReadyException.
      onAbort = () => reject(signal.reason instanceof InferenceTimeoutError ? new ModelStillLoadingError(targetModel, performance.now() - waitStarted) : (signal.reason as Error));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([loading, stopWaiting]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }

  async #load(name: string, targetModel: string): Promise<void> {
    const { cache, host, log, containerModelsDir } = this.#options;
    const signal = AbortSignal.timeout(this.#options.loadLimitMs ?? defaultLoadLimitMs);
    const started = performance.now();
    const location = this.locationOf(targetModel);
    const cached = cache.has(name, location);
    await cache.use(name, location, signal, async () => {
      const url = `${containerModelsDir.replace(/\/+$/, "")}/${name}/model`;
      for (;;) {
        try {
          await host.load(name, url, targetModel, signal);
          break;
        } catch (error) {
          if (error instanceof ModelInvocationError && error.statusCode === 409) break;
          if (!(error instanceof ModelInvocationError) || error.statusCode !== 507) throw error;
          const victim = this.#leastRecentlyUsedIdle(name);
          if (victim === undefined) throw error;
          log.info({ model: name, targetModel, unloading: victim }, "the container has no room for the model (507): unloading the least recently used model");
          await this.#unload(victim, `the container answered 507 to loading ${targetModel}`, signal);
        }
      }
    });
    this.#loaded.set(name, { targetModel, lastUsed: this.#options.now(), inFlight: 0 });
    log.info({ model: name, targetModel, source: `s3://${location.bucket}/${location.key}`, cached, ms: Math.round(performance.now() - started), loadedModels: this.#loaded.size }, "model loaded");
  }

  #leastRecentlyUsedIdle(except: string): string | undefined {
    let victim: string | undefined;
    let oldest = Infinity;
    for (const [name, model] of this.#loaded) {
      if (name === except || model.inFlight > 0 || model.lastUsed >= oldest) continue;
      victim = name;
      oldest = model.lastUsed;
    }
    return victim;
  }

  async #unload(name: string, reason: string, signal: AbortSignal): Promise<void> {
    const model = this.#loaded.get(name);
    this.#loaded.delete(name);
    try {
      await this.#options.host.unload(name, signal);
    } catch (error) {
      // 404: the container had unloaded it already, which is what was wanted.
      if (!(error instanceof ModelInvocationError) || error.statusCode !== 404) throw error;
    }
    this.#options.log.info({ model: name, targetModel: model?.targetModel, reason }, "model unloaded to make room");
  }
}
