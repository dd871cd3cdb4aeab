import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { InferenceError, ModelNotReadyError } from "../errors.js";
import type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
import type { FromWorker, ToWorker, WorkerSetup } from "./worker-protocol.js";
import { deserializeError } from "./serialize-error.js";

/** How the pool is sized and supervised. */
export interface WorkerPoolOptions {
  /** Number of worker threads, each with its own copy of the model. */
  readonly size: number;
  /** Everything a worker needs but its id. */
  readonly setup: Omit<WorkerSetup, "workerId">;
  readonly log: Logger;
  /** How long a worker may keep an abandoned (timed-out) request before it is replaced. */
  readonly recycleMs: number;
}

/** How {@link WorkerPool.invoke} hands the request over. */
export interface InvokeOptions {
  /** Move a body that owns its whole ArrayBuffer to the worker without copying; it is detached afterwards. */
  readonly transferBody?: boolean;
}

interface Pending {
  readonly resolve: (result: InvocationResult) => void;
  readonly reject: (error: Error) => void;
  abandoned: boolean;
}

interface Queued {
  readonly id: number;
  readonly message: Extract<ToWorker, { type: "invoke" }>;
  readonly pending: Pending;
}

interface Slot {
  readonly workerId: number;
  readonly worker: Worker;
  ready: boolean;
  readonly inFlight: Map<number, Pending>;
  recycleTimer: NodeJS.Timeout | undefined;
}

/**
 * Bodies up to this size cross to the worker as a latin1 string: cloning a short string costs
 * less than allocating, copying and transferring an ArrayBuffer (measured: 3.3 vs 5.0 µs of CPU
 * per message), and a per-request saving matters on the HTTP thread.
 */
const maxStringBodyBytes = 64 * 1024;

/**
 * Requests sent to a busy worker wait in its message queue, so it goes from one to the next
 * without a round trip through the HTTP thread. Four served 60-72% of the minimal server's
 * throughput at c=8 where two served 53-64% (`npm run bench`, 2 cores); more did not help, and
 * each one waiting in a worker is one that a hung worker delays until it is replaced.
 */
const maxInFlightPerWorker = 4;
const maxRespawnDelayMs = 30_000;
const workerFile = new URL(`./inference-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);

/**
 * Worker threads that each load the handlers and the model, and run requests off the main
 * thread so `/ping` answers while inference runs. Requests go to the least busy worker; a
 * worker that overruns an abandoned request by {@link WorkerPoolOptions.recycleMs} is
 * terminated and replaced, and so is one that crashes.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ size: 2, setup, log, recycleMs: 5000 });
 * await pool.start();
 * const result = await pool.invoke(request, AbortSignal.timeout(60_000));
 * ```
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots = new Map<number, Slot>();
  readonly #queue: Queued[] = [];
  #nextRequestId = 1;
  #nextWorkerId = 0;
  #state: "idle" | "loading" | "ready" | "failed" | "stopped" = "idle";
  #failure: Error | undefined;
  #respawnDelayMs = 1000;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** True once every worker loaded the model, while at least one is serving. */
  get ready(): boolean {
    return this.#state === "ready" && [...this.#slots.values()].some((slot) => slot.ready);
  }

  /** Why the model could not be loaded, when it could not. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Requests queued or running. */
  get pending(): number {
    let count = this.#queue.length;
    for (const slot of this.#slots.values()) for (const pending of slot.inFlight.values()) if (!pending.abandoned) count++;
    return count;
  }

  /** Starts the workers; resolves when all loaded the model, rejects with the first load failure. */
  async start(): Promise<void> {
    this.#state = "loading";
    const loads = Array.from({ length: this.#options.size }, () => this.#spawn());
    try {
      await Promise.all(loads);
      if (this.#state === "loading") this.#state = "ready";
    } catch (error) {
      this.#state = "failed";
      this.#failure = error as Error;
      await this.#terminateAll();
      throw error;
    }
  }

  /**
   * Runs one request on a worker. Rejects with the handler's error, or the signal's reason when it fires first.
   * With `transferBody`, a body that owns its whole ArrayBuffer moves to the worker without a copy
   * and is detached here: large async payloads (up to 1 GB) then exist once in memory.
   */
  invoke(request: InvocationRequest, signal: AbortSignal, options: InvokeOptions = {}): Promise<InvocationResult> {
    if (!this.ready) {
      return Promise.reject(new ModelNotReadyError(this.#failure ? `Model failed to load: ${this.#failure.message}` : "Model is loading"));
    }
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<InvocationResult>((resolve, reject) => {
      const id = this.#nextRequestId++;
      const { body, ...headers } = request;
      const transferable = toTransferable(body, options.transferBody === true);
      const onAbort = (): void => this.#abandon(queued, signal.reason as Error);
      const pending: Pending = {
        resolve: (result) => {
          signal.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
        abandoned: false,
      };
      const queued: Queued = { id, message: { type: "invoke", id, request: headers, body: transferable }, pending };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(queued);
      this.#dispatch();
    });
  }

  /** Waits up to `timeoutMs` for running requests, then stops the workers and releases their models. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const queued of this.#queue.splice(0)) queued.pending.reject(new ModelNotReadyError("Server is shutting down"));
    await Promise.all([...this.#slots.values()].map((slot) => this.#stopWorker(slot)));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#leastBusySlot();
      if (slot === undefined) return;
      const queued = this.#queue.shift() as Queued;
      slot.inFlight.set(queued.id, queued.pending);
      const body = queued.message.body;
      slot.worker.postMessage(queued.message, typeof body === "string" ? [] : [body.buffer as ArrayBuffer]);
    }
  }

  #leastBusySlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.#slots.values()) {
      if (!slot.ready || slot.inFlight.size >= maxInFlightPerWorker) continue;
      if (best === undefined || slot.inFlight.size < best.inFlight.size) best = slot;
    }
    return best;
  }

  #abandon(queued: Queued, reason: Error): void {
    const index = this.#queue.indexOf(queued);
    if (index >= 0) {
      this.#queue.splice(index, 1);
      queued.pending.reject(reason);
      return;
    }
    for (const slot of this.#slots.values()) {
      const pending = slot.inFlight.get(queued.id);
      if (pending === undefined) continue;
      pending.abandoned = true;
      pending.reject(reason);
      const why = reason.name === "TimeoutError" || reason instanceof InferenceError ? "timeout" : "client-closed";
      slot.worker.postMessage({ type: "abort", id: queued.id, reason: why } satisfies ToWorker);
      slot.recycleTimer ??= setTimeout(() => this.#recycle(slot), this.#options.recycleMs);
      return;
    }
  }

  #spawn(): Promise<void> {
    const workerId = this.#nextWorkerId++;
    const setup: WorkerSetup = { ...this.#options.setup, workerId };
    const worker = new Worker(workerFile, { workerData: setup });
    const slot: Slot = { workerId, worker, ready: false, inFlight: new Map(), recycleTimer: undefined };
    this.#slots.set(workerId, slot);
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (message: FromWorker) => {
        if (message.type === "ready") {
          slot.ready = true;
          this.#respawnDelayMs = 1000;
          this.#options.log.info({ worker: workerId, loadMs: Math.round(message.loadMs) }, "worker loaded the model");
          resolve();
          this.#dispatch();
        } else if (message.type === "load-failed") {
          reject(deserializeError(message.error));
        } else {
          this.#settle(slot, message);
        }
      });
      worker.on("error", (error: Error) => {
        this.#options.log.error({ err: error, worker: workerId }, "worker crashed");
        reject(error);
      });
      worker.on("exit", (code) => {
        this.#onExit(slot, code);
        reject(new Error(`Worker ${workerId} exited with code ${code} while loading the model`));
      });
    });
  }

  #settle(slot: Slot, message: Extract<FromWorker, { type: "result" | "error" }>): void {
    const pending = slot.inFlight.get(message.id);
    if (pending === undefined) return;
    slot.inFlight.delete(message.id);
    if (![...slot.inFlight.values()].some((other) => other.abandoned) && slot.recycleTimer !== undefined) {
      clearTimeout(slot.recycleTimer);
      slot.recycleTimer = undefined;
    }
    if (!pending.abandoned) {
      if (message.type === "result") {
        pending.resolve({ body: message.body, contentType: message.contentType, customAttributes: message.customAttributes });
      } else {
        pending.reject(deserializeError(message.error));
      }
    }
    this.#dispatch();
  }

  #recycle(slot: Slot): void {
    this.#options.log.warn(
      { worker: slot.workerId, recycleMs: this.#options.recycleMs },
      "worker still busy with an abandoned request; replacing it",
    );
    void slot.worker.terminate();
  }

  #onExit(slot: Slot, code: number): void {
    if (slot.recycleTimer !== undefined) clearTimeout(slot.recycleTimer);
    this.#slots.delete(slot.workerId);
    const lost = [...slot.inFlight.values()].filter((pending) => !pending.abandoned);
    for (const pending of lost) {
      pending.reject(new InferenceError(`Inference worker ${slot.workerId} stopped (exit code ${code}) while running this request`));
    }
    if (this.#state !== "ready") return;
    this.#options.log.warn({ worker: slot.workerId, code, delayMs: this.#respawnDelayMs }, "worker exited; starting a replacement");
    const delay = this.#respawnDelayMs;
    this.#respawnDelayMs = Math.min(this.#respawnDelayMs * 2, maxRespawnDelayMs);
    setTimeout(() => {
      if (this.#state !== "ready") return;
      this.#spawn().catch((error: unknown) => this.#options.log.error({ err: error }, "replacement worker failed to load the model"));
    }, delay).unref();
    this.#dispatch();
  }

  async #stopWorker(slot: Slot): Promise<void> {
    const exited = new Promise<void>((resolve) => slot.worker.once("exit", () => resolve()));
    slot.worker.postMessage({ type: "shutdown" } satisfies ToWorker);
    const timer = setTimeout(() => void slot.worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async #terminateAll(): Promise<void> {
    await Promise.all([...this.#slots.values()].map((slot) => slot.worker.terminate()));
  }
}

/**
 * The body in a form the worker can own. Request buffers may share Node's pool with other data,
 * so a large body is copied into a buffer of its own, unless the caller hands it over
 * (`transfer`) and it already owns its whole ArrayBuffer.
 */
function toTransferable(body: Buffer, transfer: boolean): Uint8Array | string {
  if (transfer && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength) return body;
  if (body.byteLength <= maxStringBodyBytes) return body.toString("latin1");
  return new Uint8Array(body);
}
