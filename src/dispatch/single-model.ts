import type { Logger } from "pino";
import type { ModelSource } from "../models/model-source.js";
import type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
import type { DataPlane, ModelStatus } from "./data-plane.js";
import type { InlineLane } from "./inline-lane.js";
import { notReadyError, type Readiness } from "./readiness.js";
import type { InvokeOptions, WorkerPool } from "./worker-pool.js";
import type { LoadReport } from "./worker-protocol.js";

/**
 * Gives a freshly loaded model its inline lane (docs/inline-lane.md), or `undefined` when it may
 * not run on the HTTP thread.
 */
export type InlineLaneFactory = (source: ModelSource, report: LoadReport) => InlineLane | undefined;

/**
 * The data plane of an endpoint with one model (`/opt/ml/model`), loaded in every worker.
 * Ready once it loaded, and while a crashed worker's replacement reloads it. A tiny model's
 * small requests may run on the HTTP thread instead (see {@link InlineLaneFactory}).
 *
 * @example
 * ```ts
 * const plane = new SingleModel(pool, "model", log);
 * await plane.start(() => resolveModelSource(options));
 * ```
 */
export class SingleModel implements DataPlane {
  readonly #pool: WorkerPool;
  readonly #name: string;
  readonly #log: Logger;
  #failure: Error | undefined;
  readonly #onLoad: ((name: string, outcome: "success" | "failure") => void) | undefined;
  readonly #inlineLane: InlineLaneFactory | undefined;
  #lane: InlineLane | undefined;

  /** `onLoad` is told whether the load succeeded (the metrics count loads); `inlineLane` may give the model an inline lane. */
  constructor(
    pool: WorkerPool,
    name: string,
    log: Logger,
    options: { readonly onLoad?: (name: string, outcome: "success" | "failure") => void; readonly inlineLane?: InlineLaneFactory } = {},
  ) {
    this.#pool = pool;
    this.#name = name;
    this.#log = log;
    this.#onLoad = options.onLoad;
    this.#inlineLane = options.inlineLane;
    const failure = (): Error | undefined => this.#failure;
    this.readiness = {
      get ready() {
        return pool.serves(name);
      },
      get failure() {
        return failure();
      },
    };
  }

  /** The model's name, which `/invocations` runs. */
  get name(): string {
    return this.#name;
  }

  /** True while the model's small requests run on the HTTP thread (docs/inline-lane.md). */
  get runsInline(): boolean {
    return this.#lane?.open === true;
  }

  /** Read live by `/ping`: ready while a worker serves the model, with the load failure once there is one. */
  readonly readiness: Readiness;

  /**
   * Starts the workers and loads the model in each; a failure is kept (and `/ping` says why)
   * rather than thrown.
   */
  async start(resolveSource: () => Promise<ModelSource>): Promise<void> {
    try {
      const source = await resolveSource();
      this.#log.info({ modelDir: source.modelDir, handlersFile: source.handlersFile ?? "(defaults: ONNX model, built-in codecs)" }, "loading model");
      await this.#pool.start();
      const report = await this.#pool.load(source, "all");
      this.#onLoad?.(this.#name, "success");
      this.#log.info("model loaded; /ping answers 200");
      this.#lane = this.#inlineLane?.(source, report);
      await this.#lane?.start();
    } catch (error) {
      this.#onLoad?.(this.#name, "failure");
      this.#failure = error as Error;
      this.#log.error({ err: error }, "model load failed; /ping answers 503");
    }
  }

  models(): ModelStatus[] {
    return [this.#status()];
  }

  model(name: string): ModelStatus | undefined {
    return name === this.#name ? this.#status() : undefined;
  }

  invoke(name: string, request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult> {
    if (!this.#pool.serves(name)) return Promise.reject(notReadyError(this.readiness));
    const lane = this.#lane;
    if (lane?.takes(request, options?.requestsInFlight) === true) return lane.invoke(request, signal);
    return this.#pool.invoke(name, request, signal, options);
  }

  /** Releases what the model holds outside the workers (its inline lane's copy); the pool releases the rest. */
  async close(): Promise<void> {
    await this.#lane?.close();
  }

  report(name: string): LoadReport | undefined {
    return name === this.#name ? this.#pool.report(name) : undefined;
  }

  #status(): ModelStatus {
    return { name: this.#name, ready: this.#pool.serves(this.#name), signature: this.#pool.report(this.#name)?.signature };
  }
}
