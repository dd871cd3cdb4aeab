import type { Logger } from "pino";
import type { ModelSource } from "../models/model-source.js";
import type { OnnxSessionConfig } from "../models/onnx/session-config.js";
import type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
import type { ModelRuntime } from "./model-runtime.js";
import { deserializeError, serializeError } from "./serialize-error.js";
import type { LoadReport } from "./worker-protocol.js";

/**
 * When a model counts as tiny, and when it stops counting: docs/inline-lane.md gives the
 * reasons for each figure.
 */
export const inlineThresholds = {
  /** Larger bodies always go to a worker: decoding them would hold the HTTP thread. */
  maxBodyBytes: 8 * 1024,
  /** Models that measured more at load stay on the workers. */
  maxModelBytes: 64 * 1024 * 1024,
  /** The lane opens when the median `session.run` of its copy, timed on zero-filled inputs at load, is at most this. */
  openAtRunMs: 0.1,
  /** Requests judged together once it is open. */
  window: 64,
  /** It closes for good when the median of a window of its requests (decode, run, encode) is above this... */
  closeAtMedianMs: 0.5,
  /** ...or when {@link inlineThresholds.slowRequests} requests of one window each take longer than this. */
  slowRequestMs: 20,
  /** Not one: on a busy machine the operating system deschedules the HTTP thread for tens of milliseconds now and then. */
  slowRequests: 3,
} as const;

/**
 * Runs the request on a worker instead: where the lane sends a request it cannot take after all
 * (it was busy, or closed, by the time the request reached it).
 */
export type WorkerInvoke = (request: InvocationRequest, signal: AbortSignal) => Promise<InvocationResult>;

/** The lane's own copy of the model, loaded on the HTTP thread, and how long its runs took there. */
export interface InlineCopy {
  readonly runtime: ModelRuntime;
  /** Median `session.run` on zero-filled inputs, in milliseconds (the slowest session's, for several). */
  readonly runMs: number;
}

/**
 * What the lane needs: how to load its own copy of the model on this thread, whether the workers
 * are idle, and where to send requests it hands back.
 *
 * @example
 * ```ts
 * const options: InlineLaneOptions = { model: "model", loadCopy, workersIdle: () => pool.pendingFor("model") === 0, toWorkers, log };
 * ```
 */
export interface InlineLaneOptions {
  readonly model: string;
  /** Loads and times the model on the calling thread; called once, by {@link InlineLane.start}. */
  readonly loadCopy: () => Promise<InlineCopy>;
  /** True when no request of the model is queued or running on a worker. */
  readonly workersIdle: () => boolean;
  readonly toWorkers: WorkerInvoke;
  readonly log: Logger;
  /** Milliseconds, for the lane's own requests (`performance.now()` by default; tests inject one). */
  readonly now?: () => number;
}

type LaneState = "idle" | "loading" | "open" | "closed";

/**
 * True when a model may ever run on the HTTP thread: no user code (the built-in handlers only,
 * so nothing a user wrote can block `/ping`), CPU execution providers only, and a small model.
 *
 * @example
 * ```ts
 * if (inlineCandidate(source, report, config.onnx)) lane = new InlineLane(options);
 * ```
 */
export function inlineCandidate(source: ModelSource, report: LoadReport, onnx: Pick<OnnxSessionConfig, "executionProviders">): boolean {
  return (
    source.handlersFile === undefined &&
    onnx.executionProviders.every((provider) => provider === "cpu") &&
    report.memoryBytes <= inlineThresholds.maxModelBytes
  );
}

/**
 * Runs a tiny model's request on the HTTP thread when it is the only request under way, without
 * the round trip to a worker thread, which for such a model takes longer than the model itself
 * (docs/inline-lane.md). Under concurrency the workers take the requests: the HTTP thread is then
 * the busy one, and work moved onto it costs throughput.
 *
 * Once the workers have loaded the model, {@link InlineLane.start} loads a copy on this thread and
 * times its runs; when the median is at most {@link inlineThresholds.openAtRunMs} the lane opens.
 * If its requests grow (a median above {@link inlineThresholds.closeAtMedianMs} over a window, or
 * a few above {@link inlineThresholds.slowRequestMs}), it closes for good and releases its copy.
 * Answers and errors are the workers' own, byte for byte.
 *
 * @example
 * ```ts
 * await lane.start();
 * if (lane.takes(request, requestsInFlight)) return lane.invoke(request, signal);
 * return pool.invoke("model", request, signal);
 * ```
 */
export class InlineLane {
  readonly #options: InlineLaneOptions;
  readonly #now: () => number;
  #state: LaneState = "idle";
  #window: number[] = [];
  #slowInWindow = 0;
  #runtime: ModelRuntime | undefined;
  #busy = false;

  constructor(options: InlineLaneOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** True while the lane may take requests. */
  get open(): boolean {
    return this.#state === "open";
  }

  /**
   * True when `request` runs here now: the lane is open, the body small, and the request alone
   * (`requestsInFlight`, as the HTTP layer counts them, is 1 and the workers have none of the model).
   * A request the HTTP layer did not count (`undefined`: the async worker's) goes to the workers.
   */
  takes(request: InvocationRequest, requestsInFlight: number | undefined): boolean {
    return (
      this.#state === "open" &&
      !this.#busy &&
      requestsInFlight !== undefined &&
      requestsInFlight <= 1 &&
      request.body.byteLength <= inlineThresholds.maxBodyBytes &&
      this.#options.workersIdle()
    );
  }

  /**
   * Loads the lane's copy of the model and opens the lane when its runs are tiny; otherwise the
   * copy is released and the lane stays closed. Never rejects: a failure is logged and leaves the
   * model on the workers.
   */
  async start(): Promise<void> {
    if (this.#state !== "idle") return;
    this.#state = "loading";
    const { log, model } = this.#options;
    try {
      const copy = await this.#options.loadCopy();
      this.#runtime = copy.runtime;
      if (this.#state !== "loading") {
        await this.#release();
        return;
      }
      if (copy.runMs > inlineThresholds.openAtRunMs) {
        this.#state = "closed";
        log.info({ model, runMs: round(copy.runMs) }, "the model's runs are too long for the HTTP thread: requests stay on the workers");
        await this.#release();
        return;
      }
      this.#state = "open";
      log.info({ model, runMs: round(copy.runMs) }, "the model's runs are tiny: requests that find it idle now run on the HTTP thread");
    } catch (error) {
      this.#state = "closed";
      await this.#release();
      log.warn({ err: error, model }, "loading the model on the HTTP thread failed; it stays on the workers");
    }
  }

  /**
   * Runs `request` on this thread, or on a worker when the lane has become busy or closed since
   * {@link InlineLane.takes}; rejects as a worker would, or with the signal's reason when it fires
   * first.
   */
  async invoke(request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    const runtime = this.#runtime;
    if (this.#state !== "open" || this.#busy || runtime === undefined) return this.#options.toWorkers(request, signal);
    this.#busy = true;
    const started = this.#now();
    try {
      return await abortable(runtime.invoke(this.#options.model, request, { log: this.#options.log.child({ inferenceId: request.inferenceId }), signal }), signal);
    } catch (error) {
      // Through the same flattening as a worker's error, so both lanes answer alike.
      throw error === signal.reason ? error : deserializeError(serializeError(error));
    } finally {
      this.#busy = false;
      this.#record(this.#now() - started);
      if (!this.open) await this.#release();
    }
  }

  /** Closes the lane for good and releases its copy of the model (the server is stopping). */
  async close(): Promise<void> {
    this.#state = "closed";
    await this.#release();
  }

  #record(ms: number): void {
    if (this.#state !== "open") return;
    if (ms > inlineThresholds.slowRequestMs && ++this.#slowInWindow >= inlineThresholds.slowRequests) {
      this.#shut({ ms: round(ms), slowRequests: this.#slowInWindow }, "requests held the HTTP thread too long");
      return;
    }
    this.#window.push(ms);
    if (this.#window.length < inlineThresholds.window) return;
    const medianMs = quantile(this.#window, 0.5);
    this.#window = [];
    this.#slowInWindow = 0;
    if (medianMs > inlineThresholds.closeAtMedianMs) this.#shut({ medianMs: round(medianMs) }, "the model's requests grew");
  }

  #shut(measured: Record<string, number>, why: string): void {
    this.#state = "closed";
    this.#options.log.warn({ model: this.#options.model, ...measured }, `${why}: requests go back to the workers for good`);
  }

  async #release(): Promise<void> {
    const runtime = this.#runtime;
    if (runtime === undefined || this.#busy) return;
    this.#runtime = undefined;
    await runtime.releaseAll();
  }
}

/** `work`, or the signal's reason as soon as it fires (the run itself goes on to its end). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function quantile(values: number[], q: number): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
