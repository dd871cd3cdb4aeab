import type { Logger } from "pino";
import type { ModelSource } from "../models/model-source.js";
import type { OnnxSessionConfig } from "../models/onnx/session-config.js";
import type { InvocationRequest, InvocationResult, StageTimings } from "../pipeline/inference-pipeline.js";
import type { ModelRuntime } from "./model-runtime.js";
import { deserializeError, serializeError } from "./serialize-error.js";
import type { LoadReport } from "./worker-protocol.js";

/**
 * When a model counts as tiny, and when it stops counting: docs/inline-lane.md has the
 * measurements behind each figure.
 */
export const inlineThresholds = {
  /** Larger bodies always go to a worker: decoding them would hold the HTTP thread. */
  maxBodyBytes: 8 * 1024,
  /** Models that measured more at load stay on the workers. */
  maxModelBytes: 64 * 1024 * 1024,
  /** Runs judged together, on the workers before the lane opens and in the lane after. */
  window: 64,
  /** The lane opens when the median of a window of worker runs (decode, predict, encode, as the worker timed them) is at most this. */
  openAtMedianMs: 0.25,
  /** It closes for good when the median of a window of its own runs is above this... */
  closeAtMedianMs: 0.5,
  /** ...or when one run holds the HTTP thread this long (`/ping` must answer within 50 ms). */
  closeAtRunMs: 20,
} as const;

/** Runs the request on a worker instead: where the lane sends what it can no longer take. */
export type WorkerInvoke = (request: InvocationRequest, signal: AbortSignal) => Promise<InvocationResult>;

/**
 * What the lane needs: how to load its own copy of the model on this thread, and where to send
 * requests it hands back.
 *
 * @example
 * ```ts
 * const options: InlineLaneOptions = { model: "model", loadRuntime, toWorkers, log, now: () => performance.now() };
 * ```
 */
export interface InlineLaneOptions {
  readonly model: string;
  /** Loads the model on the calling thread; called once, when the lane opens. */
  readonly loadRuntime: () => Promise<ModelRuntime>;
  readonly toWorkers: WorkerInvoke;
  readonly log: Logger;
  /** Milliseconds, for the lane's own runs (`performance.now()` by default; tests inject one). */
  readonly now?: () => number;
}

interface Waiting {
  readonly request: InvocationRequest;
  readonly signal: AbortSignal;
  readonly resolve: (result: InvocationResult) => void;
  readonly reject: (error: Error) => void;
  readonly onAbort: () => void;
}

type LaneState = "observing" | "loading" | "open" | "closed";

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
 * Runs a tiny model's requests on the HTTP thread, without the round trip to a worker thread,
 * which for such a model costs more than the model itself (docs/inline-lane.md).
 *
 * It starts by watching what the workers report for small requests; when a window of them
 * shows runs of at most {@link inlineThresholds.openAtMedianMs} (median), it loads its own copy of the model
 * and takes small requests, one at a time. If its own runs grow (a median above
 * {@link inlineThresholds.closeAtMedianMs} over a window, or one run above
 * {@link inlineThresholds.closeAtRunMs}), it closes for good, releases its copy and hands
 * everything back to the workers. Answers and errors are the workers' own, byte for byte.
 *
 * @example
 * ```ts
 * if (lane.takes(request)) return lane.invoke(request, signal);
 * const result = await pool.invoke("model", request, signal);
 * lane.observe(bodyBytes, result.timings);
 * ```
 */
export class InlineLane {
  readonly #options: InlineLaneOptions;
  readonly #now: () => number;
  #state: LaneState = "observing";
  #window: number[] = [];
  #runtime: ModelRuntime | undefined;
  readonly #queue: Waiting[] = [];
  #busy = false;

  constructor(options: InlineLaneOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** True while the lane learns from the workers' answers ({@link InlineLane.observe}). */
  get observing(): boolean {
    return this.#state === "observing";
  }

  /** True while the lane runs small requests itself. */
  get open(): boolean {
    return this.#state === "open";
  }

  /** True when `request` runs here rather than on a worker. */
  takes(request: InvocationRequest): boolean {
    return this.#state === "open" && request.body.byteLength <= inlineThresholds.maxBodyBytes;
  }

  /** Learns from a worker's answer to a request of `bodyBytes`: the evidence for opening. */
  observe(bodyBytes: number, timings: StageTimings | undefined): void {
    if (this.#state !== "observing" || timings === undefined || bodyBytes > inlineThresholds.maxBodyBytes) return;
    this.#window.push(timings.decodeMs + timings.predictMs + timings.encodeMs);
    if (this.#window.length < inlineThresholds.window) return;
    const medianMs = quantile(this.#window, 0.5);
    this.#window = [];
    if (medianMs > inlineThresholds.openAtMedianMs) return;
    this.#state = "loading";
    void this.#load(medianMs);
  }

  /** Runs `request` on this thread, after the ones already waiting; rejects as a worker would. */
  invoke(request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<InvocationResult>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#queue.indexOf(waiting);
        if (index >= 0) this.#queue.splice(index, 1);
        reject(signal.reason as Error);
      };
      const waiting: Waiting = { request, signal, resolve, reject, onAbort };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiting);
      this.#next();
    });
  }

  /** Closes the lane for good and releases its copy of the model (the server is stopping). */
  async close(): Promise<void> {
    this.#state = "closed";
    this.#handBack();
    await this.#release();
  }

  async #load(workerMedianMs: number): Promise<void> {
    const { log, model } = this.#options;
    try {
      const runtime = await this.#options.loadRuntime();
      this.#runtime = runtime;
      if (this.#state !== "loading") {
        await this.#release();
        return;
      }
      this.#state = "open";
      log.info({ model, workerMedianMs: round(workerMedianMs) }, "the model's runs are tiny: small requests now run on the HTTP thread");
    } catch (error) {
      this.#state = "closed";
      log.warn({ err: error, model }, "loading the model on the HTTP thread failed; it stays on the workers");
    }
  }

  #next(): void {
    if (this.#busy) return;
    const waiting = this.#queue.shift();
    if (waiting === undefined) return;
    if (this.#state !== "open" || this.#runtime === undefined) {
      this.#toWorkers(waiting);
      this.#next();
      return;
    }
    this.#busy = true;
    void this.#run(this.#runtime, waiting).finally(() => {
      this.#busy = false;
      if (this.#state === "closed") void this.#release();
      this.#next();
    });
  }

  async #run(runtime: ModelRuntime, waiting: Waiting): Promise<void> {
    const { request, signal } = waiting;
    const started = this.#now();
    try {
      const result = await runtime.invoke(this.#options.model, request, { log: this.#options.log.child({ inferenceId: request.inferenceId }), signal });
      settle(waiting, () => waiting.resolve(result));
    } catch (error) {
      // Through the same flattening as a worker's error, so both lanes answer alike.
      settle(waiting, () => waiting.reject(deserializeError(serializeError(error))));
    } finally {
      this.#record(this.#now() - started);
    }
  }

  #record(runMs: number): void {
    if (this.#state !== "open") return;
    if (runMs > inlineThresholds.closeAtRunMs) {
      this.#shut({ runMs: round(runMs) }, "a run held the HTTP thread too long");
      return;
    }
    this.#window.push(runMs);
    if (this.#window.length < inlineThresholds.window) return;
    const medianMs = quantile(this.#window, 0.5);
    this.#window = [];
    if (medianMs > inlineThresholds.closeAtMedianMs) this.#shut({ medianMs: round(medianMs) }, "the model's runs grew");
  }

  #shut(measured: Record<string, number>, why: string): void {
    this.#state = "closed";
    this.#options.log.warn({ model: this.#options.model, ...measured }, `${why}: requests go back to the workers for good`);
    this.#handBack();
  }

  #handBack(): void {
    for (const waiting of this.#queue.splice(0)) this.#toWorkers(waiting);
  }

  #toWorkers(waiting: Waiting): void {
    waiting.signal.removeEventListener("abort", waiting.onAbort);
    this.#options.toWorkers(waiting.request, waiting.signal).then(waiting.resolve, waiting.reject);
  }

  async #release(): Promise<void> {
    const runtime = this.#runtime;
    if (runtime === undefined || this.#busy) return;
    this.#runtime = undefined;
    await runtime.releaseAll();
  }
}

function settle(waiting: Waiting, answer: () => void): void {
  waiting.signal.removeEventListener("abort", waiting.onAbort);
  answer();
}

function quantile(values: number[], q: number): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
