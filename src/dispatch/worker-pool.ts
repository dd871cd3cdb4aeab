import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { InferenceError, ModelNotReadyError } from "../errors.js";
import type { ModelSource } from "../models/model-source.js";
import type { InvocationRequest, InvocationResult, StageTimings } from "../pipeline/inference-pipeline.js";
import type { StageCall, StageReturn } from "../pipeline/stages/hand-over.js";
import { stageHostName } from "../pipeline/stages/stage-host.js";
import type { FromWorker, LoadReport, ToWorker, WorkerSetup } from "./worker-protocol.js";
import { ChunkStream } from "./chunk-stream.js";
import { deserializeError, serializeError } from "./serialize-error.js";

/** How the pool is sized and supervised. */
export interface WorkerPoolOptions {
  /** Number of worker threads. */
  readonly size: number;
  /** Everything a worker needs but its id. */
  readonly setup: Omit<WorkerSetup, "workerId">;
  readonly log: Logger;
  /** How long a worker may keep an abandoned (timed-out) request before it is replaced. */
  readonly recycleMs: number;
  /**
   * How long a request may be in flight on a worker before, while others wait, the worker is
   * probed and the request stops counting against its share if the worker answers (see
   * {@link WorkerPool}); 1 s unless set.
   */
  readonly stalledAfterMs?: number;
}

/** How {@link WorkerPool.invoke} hands the request over. */
export interface InvokeOptions {
  /** Move a body that owns its whole ArrayBuffer to the worker without copying; it is detached afterwards. */
  readonly transferBody?: boolean;
  /**
   * Requests the HTTP layer has admitted, this one included: a single-model endpoint's inline
   * lane runs a request on the HTTP thread only when it is alone (docs/inline-lane.md).
   */
  readonly requestsInFlight?: number;
}

/**
 * How many workers host a model: `"all"` (one copy per worker, the single-model default: any
 * worker can take any request) or a count (multi-model endpoints keep one copy per model).
 */
export type Replicas = "all" | number;

interface PendingInvocation extends PendingBase {
  readonly kind: "invocation";
  readonly resolve: (result: InvocationResult) => void;
}

/** A stage of a pipeline run for a worker serving the pipeline ({@link WorkerPool.runStage}). */
interface PendingStage extends PendingBase {
  readonly kind: "stage";
  readonly resolve: (output: StageReturn) => void;
}

type Pending = PendingInvocation | PendingStage;

/** How a queued request is answered: its kind, and what settles it. */
type Answer = Pick<PendingInvocation, "kind" | "resolve" | "reject"> | Pick<PendingStage, "kind" | "resolve" | "reject">;

/** Wraps a settling function so that it first stops listening to the request's abort signal. */
type Unlistening = <T>(settle: (value: T) => void) => (value: T) => void;

interface PendingBase {
  readonly reject: (error: Error) => void;
  readonly model: string;
  /** When the request entered the pool (`performance.now()`), for its queue time. */
  readonly enqueuedAt: number;
  /** When it was sent to a worker (`performance.now()`). */
  dispatchedAt: number;
  /** The request body's size, counted against {@link maxWorkerBodyBytes} while in a worker. */
  readonly bodyBytes: number;
  abandoned: boolean;
  /**
   * Abandoned, or in flight past the stall time while others waited, and its worker answered a
   * probe since: the handler awaits something that may never settle (or takes long without
   * holding the worker's event loop), and the request no longer counts against the worker's
   * share of requests.
   */
  detached: boolean;
  /** Set once the answer turned out to be a stream: its chunks go here until it ends. */
  stream: ChunkStream | undefined;
}

interface Command {
  readonly resolve: (message: FromWorker) => void;
  readonly reject: (error: Error) => void;
}

interface Queued {
  readonly id: number;
  readonly message: Extract<ToWorker, { type: "invoke" | "run-stage" }>;
  /** Buffers the message moves to the worker rather than copies. */
  readonly transfer: readonly ArrayBuffer[];
  readonly pending: Pending;
}

interface Slot {
  readonly workerId: number;
  readonly worker: Worker;
  started: boolean;
  /** Models loaded in this worker and taking requests. */
  readonly models: Set<string>;
  /** Models this worker should host: the loaded ones and those a replacement is still loading. */
  readonly assigned: Set<string>;
  readonly inFlight: Map<number, Pending>;
  readonly commands: Map<number, Command>;
  recycleTimer: NodeJS.Timeout | undefined;
  /** Requests sent to this worker lately, halving every {@link recentLoadHalfLifeMs} (see {@link WorkerPool.load}). */
  recentLoad: number;
  /** When {@link Slot.recentLoad} was last brought up to date (`performance.now()`). */
  recentLoadAt: number;
  /** A probe asking whether the worker's event loop is free, and the requests its answer detaches (see `#probeToDetach`). */
  detachProbe: { readonly id: number; readonly requests: Set<Pending> } | undefined;
  /** Set while a request here is on its way to the stall time and others wait (see `#watchForStalls`). */
  stallTimer: NodeJS.Timeout | undefined;
  /** A probe sent before recycling, waiting for the worker's `alive`. */
  probe: { readonly id: number; readonly timer: NodeJS.Timeout } | undefined;
  /** Set while this worker replaces a crashed one and loads its models. */
  replacing: Replacement | undefined;
  /** Stage runs this worker asked for (`call-stage`), by its own ids, until answered or cancelled. */
  readonly stageCalls: Map<number, AbortController>;
}

/** The models a replacement worker is still to load. */
interface Replacement {
  readonly models: Set<string>;
}

interface HostedModel {
  readonly source: ModelSource;
  readonly replicas: Replicas;
  report: LoadReport | undefined;
  /** The hosts of its pipeline's stages that run on workers of their own (see {@link WorkerPool.runStage}). */
  readonly stageHosts: readonly string[];
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
const defaultStalledAfterMs = 1_000;
/**
 * A worker takes another request only while the bodies it holds stay within this (it always
 * takes one): a decoded JSON body takes many times its size in the worker's heap, and 64
 * concurrent 5.7 MiB bodies sent to one worker at once (a batched model takes up to its batch
 * size) grew the process past 3 GB and held `/ping` for seconds (docs/reliability.md).
 */
const maxWorkerBodyBytes = 8 * 1024 * 1024;
const maxRespawnDelayMs = 30_000;
/**
 * How fast a worker's count of recent requests fades. A model loaded on some workers (a
 * multi-model endpoint's, one each) goes to those that served the fewest requests lately, then
 * to those hosting the fewest models: placed by model count alone, the models in use piled up on
 * one worker while the other held idle ones.
 */
const recentLoadHalfLifeMs = 1_000;
/** How long a worker has to answer a probe before it counts as blocked. */
const probeTimeoutMs = 1_000;
/** Replacements that fail in a row before a model stops counting as served (and `/ping` turns 503). */
const maxFailedReplacements = 3;
const workerFile = new URL(`./inference-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);

/**
 * Worker threads that host models and run requests off the main thread, so `/ping` answers
 * while inference runs. A model is loaded on every worker or on some (see {@link Replicas});
 * each request goes to the least busy worker that hosts its model. Model loads run one at a time
 * across the pool, so the memory each worker measures belongs to the model it loaded.
 *
 * Supervision: a worker that crashes is replaced at once (then with backoff if it keeps
 * crashing), and the replacement loads the models the old one hosted; meanwhile their requests
 * wait in the queue and the model still counts as served ({@link WorkerPool.serves}), so one
 * crash does not turn `/ping` to 503. A worker still running an abandoned (timed-out) request
 * after {@link WorkerPoolOptions.recycleMs} is probed: if its event loop answers, the handler is
 * merely waiting on a promise that never settles, and the worker keeps serving; if it does not, a
 * run is blocking it, and it is replaced.
 *
 * Each worker takes a few requests at a time (its share), so the rest wait here, where any
 * worker can take them. A request in flight past {@link WorkerPoolOptions.stalledAfterMs} while
 * others wait gets its worker probed too: if the event loop answers, the handler awaits
 * something other than the worker (an outside call, a promise that may never settle), and the
 * request stops counting against the share, so handlers stuck that way cannot starve the queue
 * until their time limit.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ size: 2, setup, log, recycleMs: 5000 });
 * await pool.start();
 * await pool.load({ name: "model", modelDir: "/opt/ml/model", handlersFile: undefined }, "all");
 * const result = await pool.invoke("model", request, AbortSignal.timeout(60_000));
 * ```
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots = new Map<number, Slot>();
  readonly #models = new Map<string, HostedModel>();
  /** Requests waiting for a worker, by model, oldest first: only models with requests waiting have one. */
  readonly #queues = new Map<string, Queued[]>();
  #nextId = 1;
  #nextWorkerId = 0;
  #state: "idle" | "running" | "stopped" = "idle";
  #respawnDelayMs = 0;
  #failedReplacements = 0;
  readonly #replacements = new Set<Replacement>();
  /** Loads run one after another (see the class comment). */
  #loading: Promise<unknown> = Promise.resolve();

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** Starts the workers; resolves when each is up (no model loaded yet). */
  async start(): Promise<void> {
    this.#state = "running";
    try {
      await Promise.all(Array.from({ length: this.#options.size }, () => this.#spawn()));
    } catch (error) {
      this.#state = "stopped";
      await Promise.all([...this.#slots.values()].map((slot) => slot.worker.terminate()));
      throw error;
    }
  }

  /** True while `model` is loaded in at least one live worker. */
  hosts(model: string): boolean {
    for (const slot of this.#slots.values()) if (slot.started && slot.models.has(model)) return true;
    return false;
  }

  /**
   * True while `model` can take requests: loaded in a live worker, or being reloaded in the
   * replacement of one that crashed (its requests wait meanwhile), and so are the stages of its
   * pipeline that run on workers of their own.
   */
  serves(model: string): boolean {
    const hosted = this.#models.get(model);
    if (hosted === undefined || !hosted.stageHosts.every((host) => this.serves(host))) return false;
    if (this.hosts(model)) return true;
    if (this.#failedReplacements >= maxFailedReplacements) return false;
    for (const replacement of this.#replacements) if (replacement.models.has(model)) return true;
    return false;
  }

  /** What loading `model` cost, once loaded. */
  report(model: string): LoadReport | undefined {
    return this.#models.get(model)?.report;
  }

  /** Requests queued or running. */
  get pending(): number {
    let count = 0;
    for (const queue of this.#queues.values()) count += queue.length;
    for (const slot of this.#slots.values()) for (const pending of slot.inFlight.values()) if (!pending.abandoned) count++;
    return count;
  }

  /** Requests queued or running for `model`. */
  pendingFor(model: string): number {
    let count = this.#queues.get(model)?.length ?? 0;
    for (const slot of this.#slots.values()) for (const pending of slot.inFlight.values()) if (!pending.abandoned && pending.model === model) count++;
    return count;
  }

  /**
   * Loads `source` in `replicas` workers (those that served the fewest requests lately, then
   * those hosting the fewest models): the first alone, so its memory
   * figure is its own, then the others together. Rejects with the load's error, leaving the
   * model nowhere; a model already hosted under the name is replaced once the new copies loaded.
   * When the first copy reports stages of a pipeline that run on workers of their own, each is
   * loaded, before the other copies, as its own model ({@link stageHostName}) on as many workers
   * as it asks for; its load time and memory count in the pipeline's report.
   */
  load(source: ModelSource, replicas: Replicas): Promise<LoadReport> {
    const run = this.#loading.then(() => this.#load(source, replicas));
    this.#loading = run.catch(() => undefined);
    return run;
  }

  /**
   * Stops routing requests to `model`, lets the ones under way finish (up to `drainMs`), then
   * unloads it from every worker. Resolves at once when it is not loaded.
   */
  async unload(model: string, drainMs: number): Promise<void> {
    const stageHosts = this.#models.get(model)?.stageHosts ?? [];
    if (!this.#models.delete(model)) return;
    const deadline = Date.now() + drainMs;
    while (this.pendingFor(model) > 0 && Date.now() < deadline) await sleep(10);
    for (const queued of this.#queues.get(model)?.splice(0) ?? []) queued.pending.reject(new ModelNotReadyError(`Model ${model} was unloaded`));
    this.#queues.delete(model);
    const hosting = [...this.#slots.values()].filter((slot) => slot.assigned.delete(model));
    for (const slot of hosting) slot.models.delete(model);
    await Promise.all(hosting.map((slot) => this.#command(slot, { type: "unload", id: this.#nextId++, model })));
    for (const host of stageHosts) await this.unload(host, 0);
  }

  /**
   * Runs one request on a worker hosting `model`. Rejects with the handler's error, or the
   * signal's reason when it fires first. With `transferBody`, a body that owns its whole
   * ArrayBuffer moves to the worker without a copy and is detached here: large async payloads (up
   * to 1 GB) then exist once in memory.
   */
  invoke(model: string, request: InvocationRequest, signal: AbortSignal, options: InvokeOptions = {}): Promise<InvocationResult> {
    if (this.#state !== "running") return Promise.reject(new ModelNotReadyError("Server is shutting down"));
    if (!this.#models.has(model)) return Promise.reject(new ModelNotReadyError(`Model ${model} is not loaded`));
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<InvocationResult>((resolve, reject) => {
      const id = this.#nextId++;
      const { body, ...headers } = request;
      const transferable = toTransferable(body, options.transferBody === true);
      const message: Queued["message"] = { type: "invoke", id, model, request: headers, body: transferable };
      this.#enqueue(id, message, typeof transferable === "string" ? [] : [transferable.buffer as ArrayBuffer], signal, (unlistening) => ({
        kind: "invocation",
        resolve: unlistening(resolve),
        reject: unlistening(reject),
      }));
    });
  }

  /**
   * Runs one stage of a pipeline on a worker hosting it (`model`, a {@link stageHostName}), for a
   * worker serving the pipeline: `call`'s buffers move to it and the output's move back, without
   * copies. Stage runs are not held back by the limit of requests per worker: each comes from a
   * request that holds a place already, and waiting for one could deadlock.
   */
  runStage(model: string, call: StageCall, signal: AbortSignal): Promise<StageReturn> {
    if (this.#state !== "running") return Promise.reject(new ModelNotReadyError("Server is shutting down"));
    if (!this.serves(model)) return Promise.reject(new ModelNotReadyError(`Stage "${call.stage}" has no worker to run it`));
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<StageReturn>((resolve, reject) => {
      const id = this.#nextId++;
      this.#enqueue(id, { type: "run-stage", id, model, call }, call.transfer, signal, (unlistening) => ({
        kind: "stage",
        resolve: unlistening(resolve),
        reject: unlistening(reject),
      }));
    });
  }

  /** Queues a request for its model's workers; it leaves the queue when dispatched, or when `signal` fires first. */
  #enqueue(id: number, message: Queued["message"], transfer: readonly ArrayBuffer[], signal: AbortSignal, answer: (unlistening: Unlistening) => Answer): void {
    const onAbort = (): void => this.#abandon(queued, signal.reason as Error);
    const unlistening: Unlistening = (settle) => (value) => {
      signal.removeEventListener("abort", onAbort);
      settle(value);
    };
    const bodyBytes = message.type === "invoke" ? message.body.length : 0;
    const pending: Pending = { ...answer(unlistening), model: message.model, enqueuedAt: performance.now(), dispatchedAt: 0, bodyBytes, abandoned: false, detached: false, stream: undefined };
    const queued: Queued = { id, message, transfer, pending };
    signal.addEventListener("abort", onAbort, { once: true });
    let queue = this.#queues.get(message.model);
    if (queue === undefined) this.#queues.set(message.model, (queue = []));
    queue.push(queued);
    this.#dispatch(message.model);
  }

  /** Waits up to `timeoutMs` for running requests, then stops the workers, which release their models. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await sleep(20);
    for (const queue of this.#queues.values()) for (const queued of queue.splice(0)) queued.pending.reject(new ModelNotReadyError("Server is shutting down"));
    await Promise.all([...this.#slots.values()].map((slot) => this.#stopWorker(slot)));
  }

  async #load(source: ModelSource, replicas: Replicas): Promise<LoadReport> {
    const live = [...this.#slots.values()].filter((slot) => slot.started);
    const count = replicas === "all" ? live.length : Math.min(replicas, live.length);
    const now = performance.now();
    const byRecentLoad = (slot: Slot): number => Math.round(decayedLoad(slot, now));
    const targets = live.sort((a, b) => byRecentLoad(a) - byRecentLoad(b) || a.models.size - b.models.size || a.workerId - b.workerId).slice(0, count);
    const [first, ...rest] = targets;
    if (first === undefined) throw new ModelNotReadyError("No inference worker is running");
    const loaded: Slot[] = [];
    let stageHosts: string[] = [];
    try {
      const firstReport = await this.#loadOn(first, source);
      loaded.push(first);
      const hosted = await this.#loadStageHosts(source, firstReport.remoteStages ?? []);
      stageHosts = hosted.names;
      const report = { ...firstReport, loadMs: firstReport.loadMs + hosted.loadMs, memoryBytes: firstReport.memoryBytes + hosted.memoryBytes };
      await Promise.all(rest.map(async (slot) => {
        await this.#loadOn(slot, source);
        loaded.push(slot);
      }));
      const previous = [...this.#slots.values()].filter((slot) => slot.models.has(source.name) && !targets.includes(slot));
      const previousHosts = this.#models.get(source.name)?.stageHosts ?? [];
      this.#models.set(source.name, { source, replicas, report, stageHosts });
      for (const host of previousHosts) if (!stageHosts.includes(host)) void this.unload(host, 0);
      for (const slot of targets) {
        slot.models.add(source.name);
        slot.assigned.add(source.name);
      }
      for (const slot of previous) {
        slot.models.delete(source.name);
        slot.assigned.delete(source.name);
        void this.#command(slot, { type: "unload", id: this.#nextId++, model: source.name }).catch(() => undefined);
      }
      this.#options.log.info(
        { model: source.name, workers: targets.map((slot) => slot.workerId), loadMs: Math.round(report.loadMs), memoryBytes: report.memoryBytes },
        "model loaded",
      );
      this.#dispatch(source.name);
      return report;
    } catch (error) {
      await Promise.allSettled(loaded.map((slot) => this.#command(slot, { type: "unload", id: this.#nextId++, model: source.name })));
      for (const host of stageHosts) await this.unload(host, 0);
      throw error;
    }
  }

  /** Loads each remote stage as its own model, one after another; a failure unloads those loaded. */
  async #loadStageHosts(source: ModelSource, remoteStages: NonNullable<LoadReport["remoteStages"]>): Promise<{ names: string[]; loadMs: number; memoryBytes: number }> {
    const loaded = { names: [] as string[], loadMs: 0, memoryBytes: 0 };
    try {
      for (const { stage, workers } of remoteStages) {
        const name = stageHostName(source.name, stage);
        const report = await this.#load({ ...source, name, stage }, workers);
        loaded.names.push(name);
        loaded.loadMs += report.loadMs;
        loaded.memoryBytes += report.memoryBytes;
      }
    } catch (error) {
      for (const name of loaded.names) await this.unload(name, 0);
      throw error;
    }
    return loaded;
  }

  async #loadOn(slot: Slot, source: ModelSource): Promise<LoadReport> {
    const answer = await this.#command(slot, { type: "load", id: this.#nextId++, source });
    if (answer.type !== "loaded") throw new Error(`Worker ${slot.workerId} answered ${answer.type} to a load`);
    return answer.report;
  }

  #command(slot: Slot, message: Extract<ToWorker, { type: "load" | "unload" }>): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      slot.commands.set(message.id, { resolve, reject });
      slot.worker.postMessage(message);
    });
  }

  /** Sends `model`'s waiting requests to the least busy workers hosting it, while they have room. */
  #dispatch(model: string): void {
    while (this.#dispatchNext(model));
  }

  /**
   * Sends the first waiting request of `model` to the least busy worker hosting it. False when none
   * waits, or when no such worker has room (its stalls are then watched). A queue is dropped once
   * empty.
   */
  #dispatchNext(model: string): boolean {
    const queue = this.#queues.get(model);
    const queued = queue?.[0];
    if (queue === undefined || queued === undefined) return false;
    const slot = this.#leastBusySlot(model, queued.pending.bodyBytes);
    if (slot === undefined) {
      this.#watchForStalls(model);
      return false;
    }
    queue.shift();
    if (queue.length === 0) this.#queues.delete(model);
    queued.pending.dispatchedAt = performance.now();
    slot.inFlight.set(queued.id, queued.pending);
    slot.recentLoad = decayedLoad(slot, queued.pending.enqueuedAt) + 1;
    slot.recentLoadAt = queued.pending.enqueuedAt;
    slot.worker.postMessage(queued.message, [...queued.transfer]);
    return true;
  }

  /**
   * A request on `slot` ended and freed a place: the requests waiting for any model it hosts take
   * it, the one that has waited longest first. Offered to the finished request's model alone, the
   * place went to that model's later requests while a multi-model worker's other models waited for
   * the stall probe, a second or more.
   */
  #dispatchFreed(slot: Slot): void {
    for (;;) {
      let oldest: Queued | undefined;
      for (const [model, queue] of this.#queues) {
        const head = queue[0];
        if (head !== undefined && slot.models.has(model) && (oldest === undefined || head.pending.enqueuedAt < oldest.pending.enqueuedAt)) oldest = head;
      }
      if (oldest === undefined || !this.#dispatchNext(oldest.pending.model)) return;
    }
  }

  #dispatchAll(): void {
    for (const model of this.#queues.keys()) this.#dispatch(model);
  }

  #leastBusySlot(model: string, bodyBytes: number): Slot | undefined {
    // A batched model needs a batch's worth of requests in its worker to merge them. A stage
    // host's runs come from requests that are in flight already (see runStage): no limit.
    const hosted = this.#models.get(model);
    const limit = hosted?.source.stage !== undefined ? Infinity : Math.max(maxInFlightPerWorker, hosted?.report?.batchSize ?? 1);
    let best: Slot | undefined;
    let bestBusy = Infinity;
    for (const slot of this.#slots.values()) {
      if (!slot.started || !slot.models.has(model)) continue;
      let busy = 0;
      let heldBytes = 0;
      for (const pending of slot.inFlight.values()) {
        if (!pending.detached) busy++;
        heldBytes += pending.bodyBytes;
      }
      if (busy >= limit || (busy > 0 && heldBytes + bodyBytes > maxWorkerBodyBytes)) continue;
      if (busy < bestBusy) {
        best = slot;
        bestBusy = busy;
      }
    }
    return best;
  }

  #abandon(queued: Queued, reason: Error): void {
    const queue = this.#queues.get(queued.pending.model);
    const index = queue?.indexOf(queued) ?? -1;
    if (queue !== undefined && index >= 0) {
      queue.splice(index, 1);
      if (queue.length === 0) this.#queues.delete(queued.pending.model);
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
      this.#probeToDetach(slot, [pending]);
      return;
    }
  }

  /**
   * Asks a worker whether its event loop is free. If it answers, `requests` (abandoned ones, or
   * ones in flight past the stall time) are waiting on promises, perhaps ones that never settle,
   * and stop counting against its share of requests, so they cannot keep other requests from it
   * until they end. If it does not answer, a run is blocking it, and nothing changes: for
   * abandoned requests the recycle probe decides its fate.
   */
  #probeToDetach(slot: Slot, requests: Iterable<Pending>): void {
    if (slot.detachProbe === undefined) {
      slot.detachProbe = { id: this.#nextId++, requests: new Set() };
      slot.worker.postMessage({ type: "probe", id: slot.detachProbe.id } satisfies ToWorker);
    }
    for (const pending of requests) slot.detachProbe.requests.add(pending);
  }

  /**
   * Requests of `model` wait and no worker hosting it has room. A worker whose requests have been
   * in flight past the stall time is probed (see `#probeToDetach`); one whose oldest request is
   * not there yet is looked at again when it will be. So requests whose handlers await something
   * slow (a promise that never settles, an outside call) hold a worker's share only until then.
   */
  #watchForStalls(model: string): void {
    const stalledAfterMs = this.#options.stalledAfterMs ?? defaultStalledAfterMs;
    const now = performance.now();
    for (const slot of this.#slots.values()) {
      if (!slot.started || !slot.models.has(model) || slot.stallTimer !== undefined) continue;
      const stalled: Pending[] = [];
      let nextStallAt = Infinity;
      for (const pending of slot.inFlight.values()) {
        if (pending.detached) continue;
        const stallAt = pending.dispatchedAt + stalledAfterMs;
        if (stallAt <= now) stalled.push(pending);
        else nextStallAt = Math.min(nextStallAt, stallAt);
      }
      if (stalled.length > 0) {
        this.#probeToDetach(slot, stalled);
      } else if (nextStallAt !== Infinity) {
        slot.stallTimer = setTimeout(() => {
          slot.stallTimer = undefined;
          this.#dispatch(model);
        }, nextStallAt - now);
        slot.stallTimer.unref();
      }
    }
  }

  #spawn(): Promise<Slot> {
    const workerId = this.#nextWorkerId++;
    const setup: WorkerSetup = { ...this.#options.setup, workerId };
    const worker = new Worker(workerFile, { workerData: setup });
    const slot: Slot = {
      workerId,
      worker,
      started: false,
      models: new Set(),
      assigned: new Set(),
      inFlight: new Map(),
      commands: new Map(),
      recycleTimer: undefined,
      recentLoad: 0,
      recentLoadAt: performance.now(),
      probe: undefined,
      detachProbe: undefined,
      stallTimer: undefined,
      replacing: undefined,
      stageCalls: new Map(),
    };
    this.#slots.set(workerId, slot);
    return new Promise<Slot>((resolve, reject) => {
      worker.on("message", (message: FromWorker) => {
        if (message.type === "started") {
          slot.started = true;
          resolve(slot);
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
        reject(new Error(`Worker ${workerId} exited with code ${code} while starting`));
      });
    });
  }

  #settle(slot: Slot, message: Exclude<FromWorker, { type: "started" }>): void {
    if (message.type === "alive") {
      this.#onAlive(slot, message.id);
      return;
    }
    if (message.type === "call-stage" || message.type === "cancel-stage") {
      this.#relayStageCall(slot, message);
      return;
    }
    const command = slot.commands.get(message.id);
    if (command !== undefined) {
      slot.commands.delete(message.id);
      if (message.type === "error") command.reject(deserializeError(message.error));
      else command.resolve(message);
      return;
    }
    if (message.type === "stream-start" || message.type === "stream-chunk" || message.type === "stream-end") {
      this.#onStream(slot, message);
      return;
    }
    if (message.type !== "result" && message.type !== "error" && message.type !== "stage-output") return;
    const pending = slot.inFlight.get(message.id);
    if (pending === undefined) return;
    if (pending.stream !== undefined) {
      // A failure after the stream began: the answer's headers are out, so the stream fails.
      this.#finishStream(slot, message.id);
      if (message.type === "error") pending.stream.fail(deserializeError(message.error));
      return;
    }
    slot.inFlight.delete(message.id);
    if (![...slot.inFlight.values()].some((other) => other.abandoned) && slot.recycleTimer !== undefined) {
      clearTimeout(slot.recycleTimer);
      slot.recycleTimer = undefined;
    }
    if (!pending.abandoned) {
      if (message.type === "stage-output" && pending.kind === "stage") {
        pending.resolve(message.output);
      } else if (message.type === "result" && pending.kind === "invocation") {
        pending.resolve({
          body: message.body,
          contentType: message.contentType,
          customAttributes: message.customAttributes,
          ...(message.timings === undefined ? {} : { timings: withQueueTime(message.timings, performance.now() - pending.enqueuedAt) }),
          ...(message.protocolHeaders === undefined ? {} : { protocolHeaders: message.protocolHeaders }),
        });
      } else if (message.type === "error") {
        pending.reject(deserializeError(message.error));
      }
    }
    this.#dispatchFreed(slot);
  }

  /**
   * A worker serving a pipeline asks for one of its stages (`call-stage`): run it on a worker
   * hosting the stage and answer with its output, the buffers moved on; or it gives up on the
   * call (`cancel-stage`), which abandons the run.
   */
  #relayStageCall(slot: Slot, message: Extract<FromWorker, { type: "call-stage" | "cancel-stage" }>): void {
    const { id } = message;
    if (message.type === "cancel-stage") {
      const call = slot.stageCalls.get(id);
      slot.stageCalls.delete(id);
      call?.abort(new DOMException("The request behind the stage call ended", "AbortError"));
      return;
    }
    const controller = new AbortController();
    slot.stageCalls.set(id, controller);
    this.runStage(message.model, message.call, controller.signal).then(
      (output) => {
        if (slot.stageCalls.delete(id)) slot.worker.postMessage({ type: "stage-settled", id, output, error: undefined } satisfies ToWorker, [...output.transfer]);
      },
      (error: unknown) => {
        if (slot.stageCalls.delete(id)) slot.worker.postMessage({ type: "stage-settled", id, output: undefined, error: serializeError(error) } satisfies ToWorker);
      },
    );
  }

  /** The abandoned requests outlived `recycleMs`: probe the worker before deciding its fate. */
  /** A streamed answer: the request resolves at `stream-start` and stays in flight until the stream ends. */
  #onStream(slot: Slot, message: Extract<FromWorker, { type: "stream-start" | "stream-chunk" | "stream-end" }>): void {
    const pending = slot.inFlight.get(message.id);
    if (pending === undefined) return;
    if (message.type === "stream-start") {
      const id = message.id;
      const stream = new ChunkStream(
        () => slot.worker.postMessage({ type: "stream-ack", id } satisfies ToWorker),
        () => this.#cancelStream(slot, id, pending),
      );
      pending.stream = stream;
      if (!pending.abandoned && pending.kind === "invocation") {
        pending.resolve({
          body: stream,
          contentType: message.contentType,
          customAttributes: message.customAttributes,
          ...(message.timings === undefined ? {} : { timings: withQueueTime(message.timings, performance.now() - pending.enqueuedAt) }),
        });
      }
    } else if (message.type === "stream-chunk") {
      pending.stream?.push(message.chunk);
    } else {
      this.#finishStream(slot, message.id);
      pending.stream?.end();
    }
  }

  #finishStream(slot: Slot, id: number): void {
    slot.inFlight.delete(id);
    if (![...slot.inFlight.values()].some((other) => other.abandoned) && slot.recycleTimer !== undefined) {
      clearTimeout(slot.recycleTimer);
      slot.recycleTimer = undefined;
    }
    this.#dispatchFreed(slot);
  }

  /** The reader left a stream early (client gone, time limit): stop the handler's iterator, and supervise the worker as for any abandoned request. */
  #cancelStream(slot: Slot, id: number, pending: Pending): void {
    if (!slot.inFlight.has(id)) return;
    pending.abandoned = true;
    slot.worker.postMessage({ type: "abort", id, reason: "client-closed" } satisfies ToWorker);
    slot.recycleTimer ??= setTimeout(() => this.#recycle(slot), this.#options.recycleMs);
  }

  #recycle(slot: Slot): void {
    slot.recycleTimer = undefined;
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#options.log.warn(
        { worker: slot.workerId, recycleMs: this.#options.recycleMs, probeTimeoutMs },
        "worker blocked by an abandoned request (no answer to a probe); replacing it",
      );
      void slot.worker.terminate();
    }, probeTimeoutMs);
    slot.probe = { id, timer };
    slot.worker.postMessage({ type: "probe", id } satisfies ToWorker);
  }

  /** The worker answered: not blocked. Its abandoned requests stop counting against it. */
  #onAlive(slot: Slot, id: number): void {
    if (slot.detachProbe?.id === id) {
      const { requests } = slot.detachProbe;
      slot.detachProbe = undefined;
      let stalled = 0;
      for (const pending of slot.inFlight.values()) {
        if (!requests.has(pending)) continue;
        pending.detached = true;
        if (!pending.abandoned) stalled++;
      }
      if (stalled > 0) this.#options.log.debug({ worker: slot.workerId, stalled }, "requests in flight past the stall time on a responsive worker stop counting against its share");
      this.#dispatchAll();
      return;
    }
    if (slot.probe?.id !== id) return;
    clearTimeout(slot.probe.timer);
    slot.probe = undefined;
    const abandoned = [...slot.inFlight].filter(([, pending]) => pending.abandoned);
    for (const [requestId] of abandoned) slot.inFlight.delete(requestId);
    this.#options.log.warn(
      { worker: slot.workerId, abandoned: abandoned.length, recycleMs: this.#options.recycleMs },
      "abandoned requests still pending in a responsive worker (a handler awaits a promise that never settles); the worker keeps serving",
    );
    this.#dispatchAll();
  }

  #onExit(slot: Slot, code: number): void {
    if (slot.recycleTimer !== undefined) clearTimeout(slot.recycleTimer);
    if (slot.stallTimer !== undefined) clearTimeout(slot.stallTimer);
    if (slot.probe !== undefined) clearTimeout(slot.probe.timer);
    this.#slots.delete(slot.workerId);
    const stopped = new InferenceError(`Inference worker ${slot.workerId} stopped (exit code ${code}) while running this request`);
    for (const pending of slot.inFlight.values()) {
      if (pending.stream !== undefined) pending.stream.fail(stopped);
      else if (!pending.abandoned) pending.reject(stopped);
    }
    for (const call of slot.stageCalls.values()) call.abort(new DOMException("The worker that asked for the stage stopped", "AbortError"));
    slot.stageCalls.clear();
    for (const command of slot.commands.values()) command.reject(new Error(`Inference worker ${slot.workerId} stopped (exit code ${code})`));
    if (this.#state !== "running" || !slot.started) return;
    const lostModels = [...slot.assigned].filter((model) => this.#models.has(model));
    this.#options.log.warn({ worker: slot.workerId, code, delayMs: this.#respawnDelayMs, models: lostModels }, "worker exited; starting a replacement");
    this.#scheduleReplacement({ models: new Set(lostModels) });
    if (slot.replacing !== undefined) this.#replacements.delete(slot.replacing);
    this.#dispatchAll();
  }

  #scheduleReplacement(replacement: Replacement): void {
    this.#replacements.add(replacement);
    const delay = this.#respawnDelayMs;
    this.#respawnDelayMs = Math.min(Math.max(this.#respawnDelayMs * 2, 1000), maxRespawnDelayMs);
    setTimeout(() => void this.#replace(replacement), delay).unref();
  }

  /**
   * Starts a worker in place of one that exited and loads its models. A load that fails ends the
   * new worker, which schedules the next attempt; a worker that cannot even start is retried.
   */
  async #replace(replacement: Replacement): Promise<void> {
    if (this.#state !== "running") {
      this.#replacements.delete(replacement);
      return;
    }
    let slot: Slot | undefined;
    try {
      slot = await this.#spawn();
      slot.replacing = replacement;
      for (const name of replacement.models) if (this.#models.has(name)) slot.assigned.add(name);
      for (const name of [...slot.assigned]) {
        const hosted = this.#models.get(name);
        if (hosted === undefined) continue;
        await this.#loadOn(slot, hosted.source);
        slot.models.add(name);
        replacement.models.delete(name);
        this.#dispatch(name);
      }
      slot.replacing = undefined;
      this.#replacements.delete(replacement);
      this.#options.log.info({ worker: slot.workerId, models: [...slot.models] }, "replacement worker loaded its models");
      this.#respawnDelayMs = 0;
      this.#failedReplacements = 0;
    } catch (error) {
      this.#failedReplacements++;
      this.#options.log.error({ err: error, models: [...replacement.models], failedInARow: this.#failedReplacements }, "replacement worker failed to load its models");
      // Ending the new worker schedules the next attempt (and retires this one) from #onExit.
      if (slot !== undefined) {
        void slot.worker.terminate();
      } else {
        this.#replacements.delete(replacement);
        this.#scheduleReplacement(replacement);
      }
    }
  }

  async #stopWorker(slot: Slot): Promise<void> {
    const exited = new Promise<void>((resolve) => slot.worker.once("exit", () => resolve()));
    slot.worker.postMessage({ type: "shutdown" } satisfies ToWorker);
    const timer = setTimeout(() => void slot.worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The worker timed its stages; the rest of the round trip was waiting and the hand-over. */
function withQueueTime(timings: StageTimings, roundTripMs: number): StageTimings {
  const inWorker = timings.decodeMs + timings.predictMs + timings.encodeMs;
  return { ...timings, queueMs: Math.max(0, roundTripMs - inWorker) };
}

/** A worker's recent requests as of `now`. */
function decayedLoad(slot: Slot, now: number): number {
  return slot.recentLoad * 0.5 ** (Math.max(0, now - slot.recentLoadAt) / recentLoadHalfLifeMs);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
