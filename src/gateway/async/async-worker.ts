import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { InferenceTimeoutError } from "../../errors.js";
import { wholeBody, type InvocationResult } from "../../pipeline/inference-pipeline.js";
import type { AsyncConfig } from "../../config/async-config.js";
import { InvocationDroppedError, InvokerUnavailableError, ModelInvocationError } from "../errors.js";
import type { Invoker } from "../invoker.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { MinHeap } from "./min-heap.js";
import { maxInlineResponseBytes, type Notifier } from "./notifications.js";
import type { AsyncRequestRecord, DurableQueue } from "./queue.js";
import { backoffDelay, isTransientError, retryTransient, sleep, type BackoffOptions } from "./retry.js";
import { RetrySummary } from "./retry-summary.js";
import { parseInputLocation, parseS3Uri, type S3Location } from "./s3-location.js";
import { downloadObject, uploadObject } from "./s3-transfer.js";

/**
 * What the worker needs.
 *
 * @example
 * ```ts
 * const options: AsyncWorkerOptions = { queue, invoker, s3, notifier, config, log, now: Date.now };
 * ```
 */
export interface AsyncWorkerOptions {
  readonly queue: DurableQueue;
  readonly invoker: Invoker;
  readonly s3: S3Client;
  readonly notifier: Notifier;
  readonly config: Pick<AsyncConfig, "maxConcurrentInvocations" | "maxPayloadBytes" | "includeInferenceResponseIn" | "retryBaseMs" | "retryMaxMs">;
  readonly log: Logger;
  /** Milliseconds since the epoch; tests move it to expire requests. */
  readonly now: () => number;
  /** How often retried failures are summed up in one log line, in ms; default 60 s. */
  readonly retrySummaryIntervalMs?: number;
}

/** A request waiting to run: when it may (ms since the epoch), and its receipt to order ties. */
interface DueEntry {
  readonly dueAt: number;
  readonly receivedAt: number;
  readonly record: AsyncRequestRecord;
}

/** A failure's S3 object: the model's own error answer, or a JSON error document. */
interface FailureBody {
  readonly body: Uint8Array;
  readonly contentType: string;
}

/** Container answers that mean "not now": retried until the TTL rather than failed. */
const retriedStatuses = new Set([429, 503]);

/**
 * Runs of one request an HTTP container may drop (close the connection after taking the request,
 * without answering) before the request fails: a payload that crashes the container must not be
 * retried for hours, while one restart of the container (or a stale keep-alive connection) should
 * not fail the requests it was running.
 */
const maxDroppedInvocations = 3;

/** Longest wait between two readiness checks while the model loads, so work starts soon after. */
const maxReadinessPollMs = 2_000;

const defaultRetrySummaryIntervalMs = 60_000;

/**
 * Takes queued requests, at most `MaxConcurrentInvocationsPerInstance` at a time, in the order
 * they became due (received, or their retry time came; a heap, so a wake-up costs O(log n) per
 * request started, whatever the queue holds), and runs each: waits until the {@link Invoker} is ready (without reading anything while the
 * model loads), reads the input object from S3 into one buffer, invokes the model with the
 * request's InvocationTimeoutSeconds, writes the output (or failure) object to S3, then sends the
 * notification. A transient failure before the inference (S3 down, model not ready after all)
 * sends the request back to the queue with backoff until its RequestTTL, which counts from
 * receipt; writes of a computed result are retried in place until they succeed. So are writes of
 * the queue's own state (disk full): the request keeps its last state on disk meanwhile. Requests
 * found running at start-up (the process was killed) run again, exempt from the TTL check since
 * they started within it: delivery is at least once.
 *
 * While S3 fails, a {@link CircuitBreaker} holds the queue back: one request at a time probes it,
 * with backoff up to `retryMaxMs`, and the rest start when S3 answers again; retries are summed up
 * in one log line per interval ({@link RetrySummary}).
 *
 * @example
 * ```ts
 * const worker = new AsyncWorker({ queue, invoker, s3, notifier, config, log, now: Date.now });
 * worker.start();
 * worker.wake(); // after queueing a request
 * ```
 */
export class AsyncWorker {
  readonly #options: AsyncWorkerOptions;
  readonly #backoff: BackoffOptions;
  readonly #running = new Map<string, Promise<void>>();
  /** Requests found running at start-up, until they run again: the TTL does not apply to them. */
  readonly #recovered = new Set<string>();
  /** Fires when closing starts: requests still waiting for the model give up their slot at once. */
  readonly #closing = new AbortController();
  /** Fires once the drain is over: running requests are abandoned. */
  readonly #stop = new AbortController();
  /**
   * Queued requests (and those recovered at start-up) by due time. An entry is current while its
   * record is the queue's record for that id; a change queues a new entry and leaves the old one
   * to be dropped when it surfaces.
   */
  readonly #due = new MinHeap<DueEntry>((a, b) => a.dueAt - b.dueAt || a.receivedAt - b.receivedAt || (a.record.inferenceId < b.record.inferenceId ? -1 : 1));
  readonly #s3: CircuitBreaker;
  readonly #retries: RetrySummary;
  /** The request let through to probe S3 while the breaker is open. */
  #probe: string | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #started = false;

  constructor(options: AsyncWorkerOptions) {
    this.#options = options;
    this.#backoff = { baseMs: options.config.retryBaseMs, maxMs: options.config.retryMaxMs };
    this.#s3 = new CircuitBreaker({ dependency: "S3", backoff: this.#backoff, now: options.now, log: options.log, onRecovery: () => this.wake() });
    this.#retries = new RetrySummary(options.log, "async worker", options.retrySummaryIntervalMs ?? defaultRetrySummaryIntervalMs);
  }

  /** Takes back what a previous process left running, resumes pending notifications, starts dispatching. */
  start(): void {
    const { queue, log } = this.#options;
    for (const record of queue.list(["running"])) {
      log.warn({ inferenceId: record.inferenceId, attempts: record.attempts }, "request was running when the process stopped; it runs again");
      this.#recovered.add(record.inferenceId);
      this.#due.push({ dueAt: 0, receivedAt: 0, record });
    }
    for (const record of queue.list(["queued"])) this.#schedule(record);
    this.#unsubscribe = queue.onChange((record) => {
      if (record.status === "queued") this.#schedule(record);
    });
    this.#started = true;
    this.#options.notifier.resumePending();
    this.wake();
  }

  /** Looks for work now (after a request was queued). Does nothing before {@link start}. */
  wake(): void {
    if (!this.#started || this.#closing.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { queue, config } = this.#options;
    const now = this.#options.now();
    let nextWake = Number.POSITIVE_INFINITY;
    const running: DueEntry[] = [];
    while (this.#running.size < config.maxConcurrentInvocations) {
      if (this.#s3.isOpen) {
        if (this.#probe !== undefined) break;
        if (now < this.#s3.probeAt) {
          nextWake = this.#s3.probeAt;
          break;
        }
      }
      const entry = this.#due.peek();
      if (entry === undefined) break;
      const { record } = entry;
      if (queue.get(record.inferenceId) !== record) {
        this.#due.pop();
        continue;
      }
      if (entry.dueAt > now) {
        nextWake = entry.dueAt;
        break;
      }
      this.#due.pop();
      // Requeued while its previous run is still winding down: it runs once that one is gone.
      if (this.#running.has(record.inferenceId)) {
        running.push(entry);
        continue;
      }
      if (this.#s3.isOpen) this.#probe = record.inferenceId;
      this.#launch(record);
    }
    for (const entry of running) this.#due.push(entry);
    if (Number.isFinite(nextWake)) this.#timer = setTimeout(() => this.wake(), Math.max(0, nextWake - now));
  }

  /**
   * Stops taking work, waits up to `timeoutMs` for running requests, then abandons the rest:
   * they keep their state on disk and run again at the next start.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing.abort(new Error("The async worker is shutting down"));
    clearTimeout(this.#timer);
    this.#unsubscribe?.();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(this.#running.values()), deadline]);
    clearTimeout(timer);
    this.#stop.abort(new Error("The async worker is shutting down"));
    await Promise.all(this.#running.values());
    this.#retries.close();
  }

  #schedule(record: AsyncRequestRecord): void {
    this.#due.push({ dueAt: dueAt(record), receivedAt: Date.parse(record.receivedTime), record });
  }

  #launch(record: AsyncRequestRecord): void {
    const run = this.#process(record)
      .catch((error: unknown) => this.#options.log.error({ err: error, inferenceId: record.inferenceId }, "async request processing failed unexpectedly"))
      .finally(() => {
        this.#running.delete(record.inferenceId);
        if (this.#probe === record.inferenceId) this.#probe = undefined;
        this.wake();
      });
    this.#running.set(record.inferenceId, run);
  }

  async #process(picked: AsyncRequestRecord): Promise<void> {
    const { log } = this.#options;
    const input = parseInputLocation(picked.inputLocation);
    const output = parseS3Uri(picked.outputLocation);
    if (input === undefined || output === undefined) {
      // Only a record queued by an older version, which took ids with '/' and '..' in locations.
      const message = `Refusing the locations of this request (input ${picked.inputLocation}, output ${picked.outputLocation}): a key with a '.' or '..' segment could be written outside its bucket`;
      return this.#fail(picked, `ClientError: ${message}`, jsonFailure("UNSAFE_LOCATION", message));
    }
    if (!this.#recovered.has(picked.inferenceId) && this.#options.now() >= expiresAt(picked)) return this.#expire(picked);
    const readiness = await this.#awaitReadiness(picked);
    if (readiness === "stopped") return;
    if (readiness === "expired") return this.#expire({ ...picked, lastError: "The model did not become ready" });

    const record: AsyncRequestRecord = { ...picked, status: "running", attempts: picked.attempts + 1, startedTime: iso(this.#options.now()), retryAt: undefined };
    if (!(await this.#save(record))) return;
    this.#recovered.delete(record.inferenceId);
    log.info({ inferenceId: record.inferenceId, attempt: record.attempts, inputLocation: record.inputLocation }, "async inference started");

    let body: Buffer;
    try {
      ({ body } = await downloadObject(this.#options.s3, input, this.#options.config.maxPayloadBytes, this.#stop.signal));
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      const message = `Could not read the input ${record.inputLocation}: ${describe(error)}`;
      if (isTransientError(error)) {
        this.#s3.failed(error);
        return this.#requeue(record, message, "s3-read", error);
      }
      // Any other error (NoSuchKey, AccessDenied, too large) is an answer: S3 works.
      this.#s3.succeeded();
      return this.#fail(record, `ClientError: ${message}`, jsonFailure("INPUT_UNREADABLE", message));
    }
    this.#s3.succeeded();

    log.debug({ inferenceId: record.inferenceId, bytes: body.byteLength }, "input read; invoking the model");
    let result: InvocationResult;
    try {
      result = await this.#invoke(record, body);
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      return this.#onInvocationError(record, error);
    }

    let answer: Uint8Array | string;
    try {
      answer = await wholeBody(result.body);
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      return this.#onInvocationError(record, error);
    }
    try {
      await this.#write(record, output, answer, result.contentType);
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      const message = `Could not write the output ${record.outputLocation}: ${describe(error)}`;
      return this.#fail(record, `ServerError: ${message}`, jsonFailure("OUTPUT_UNWRITABLE", message));
    }
    await this.#finish(record, "completed", { responseContentType: result.contentType }, answer);
  }

  /**
   * Waits until the invoker is ready, checking with backoff (at most every 2 s), so a request
   * waits for a loading model without reading its input. A recovered request waits as long as it
   * takes; another one until its TTL; none once the worker is closing (it stays queued).
   */
  async #awaitReadiness(record: AsyncRequestRecord): Promise<"ready" | "expired" | "stopped"> {
    const { invoker, log } = this.#options;
    if (invoker.ready === undefined) return "ready";
    const closing = this.#closing.signal;
    const deadline = this.#recovered.has(record.inferenceId) ? Number.POSITIVE_INFINITY : expiresAt(record);
    const backoff = { ...this.#backoff, maxMs: Math.min(this.#backoff.maxMs, maxReadinessPollMs) };
    for (let attempt = 0; ; attempt++) {
      const ready = await invoker.ready(closing);
      if (closing.aborted) return "stopped";
      if (ready) return "ready";
      const left = deadline - this.#options.now();
      if (left <= 0) return "expired";
      if (attempt === 0) log.info({ inferenceId: record.inferenceId, invoker: invoker.target }, "the model is not ready; the request waits for it");
      try {
        await sleep(Math.min(backoffDelay(attempt, backoff), left), closing);
      } catch {
        return "stopped";
      }
    }
  }

  async #invoke(record: AsyncRequestRecord, body: Buffer): Promise<InvocationResult> {
    const limit = new AbortController();
    const timer = setTimeout(
      () => limit.abort(new InferenceTimeoutError(`Inference did not finish within InvocationTimeoutSeconds (${record.invocationTimeoutSeconds} s)`)),
      record.invocationTimeoutSeconds * 1000,
    );
    const onStop = (): void => limit.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener("abort", onStop, { once: true });
    try {
      return await this.#options.invoker.invoke(
        {
          body,
          contentType: record.contentType,
          accept: record.accept,
          customAttributes: record.customAttributes,
          inferenceId: record.inferenceId,
          targetModel: undefined,
          targetVariant: undefined,
          sessionId: undefined,
        },
        limit.signal,
      );
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", onStop);
    }
  }

  #onInvocationError(record: AsyncRequestRecord, error: unknown): Promise<void> {
    if (error instanceof InferenceTimeoutError) return this.#fail(record, `ClientError: ${error.message}`, jsonFailure(error.code, error.message));
    const notNow = error instanceof InvokerUnavailableError || (error instanceof ModelInvocationError && retriedStatuses.has(error.statusCode));
    if (notNow) return this.#requeue(record, error.message, "model", error);
    if (error instanceof InvocationDroppedError) {
      const dropped = (record.droppedInvocations ?? 0) + 1;
      if (dropped < maxDroppedInvocations) return this.#requeue({ ...record, droppedInvocations: dropped }, error.message, "model", error);
      const message = `${error.message} (${dropped} times; the payload may crash the container)`;
      return this.#fail({ ...record, droppedInvocations: dropped }, `ServerError: ${message}`, jsonFailure("CONTAINER_DROPPED_REQUEST", message));
    }
    if (error instanceof ModelInvocationError) {
      const kind = error.statusCode < 500 ? "client" : "server";
      const reason = `ClientError: Received ${kind} error (${error.statusCode}) from model with message "${error.originalMessage}". See the endpoint's logs for inference id ${record.inferenceId}.`;
      return this.#fail(record, reason, { body: error.body, contentType: error.contentType });
    }
    this.#options.log.error({ err: error, inferenceId: record.inferenceId }, "async invocation failed");
    const message = `The invocation failed: ${describe(error)}`;
    return this.#fail(record, `ServerError: ${message}`, jsonFailure("INTERNAL_ERROR", message));
  }

  #expire(record: AsyncRequestRecord): Promise<void> {
    const message = `Request expired: not processed within RequestTTLSeconds (${record.requestTtlSeconds} s) of being received${record.lastError === undefined ? "" : `; last error: ${record.lastError}`}`;
    return this.#fail(record, `ClientError: ${message}`, jsonFailure("REQUEST_EXPIRED", message));
  }

  async #requeue(record: AsyncRequestRecord, reason: string, kind: string, error: unknown): Promise<void> {
    const delayMs = backoffDelay(record.attempts - 1, this.#backoff);
    if (!(await this.#save({ ...record, status: "queued", retryAt: iso(this.#options.now() + delayMs), lastError: reason }))) return;
    this.#retries.record(kind, error);
    this.#options.log.debug({ inferenceId: record.inferenceId, attempt: record.attempts, delayMs, reason }, "transient failure; the request goes back to the queue");
  }

  async #fail(record: AsyncRequestRecord, failureReason: string, failure: FailureBody): Promise<void> {
    const location = record.failureLocation === undefined ? undefined : parseS3Uri(record.failureLocation);
    if (record.failureLocation !== undefined && location === undefined) {
      this.#options.log.error({ inferenceId: record.inferenceId, failureLocation: record.failureLocation }, "refusing to write the failure object: its key has a '.' or '..' segment");
    }
    if (location !== undefined) {
      try {
        await this.#write(record, location, failure.body, failure.contentType);
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        this.#options.log.error({ err: error, inferenceId: record.inferenceId, failureLocation: record.failureLocation }, "could not write the failure object");
      }
    }
    await this.#finish(record, "failed", { failureReason }, failure.body);
  }

  /** Writes an object, retrying transient S3 errors until it is written or the worker stops. */
  #write(record: AsyncRequestRecord, location: S3Location, body: Uint8Array | string, contentType: string): Promise<void> {
    const attempt = async (): Promise<void> => {
      try {
        await uploadObject(this.#options.s3, location, body, contentType, this.#stop.signal);
      } catch (error) {
        if (isTransientError(error)) this.#s3.failed(error);
        else this.#s3.succeeded();
        throw error;
      }
      this.#s3.succeeded();
    };
    return retryTransient(attempt, this.#backoff, this.#stop.signal, (error, attempt, delayMs) => {
      this.#retries.record("s3-write", error);
      this.#options.log.debug({ err: error, inferenceId: record.inferenceId, key: location.key, attempt, delayMs }, "S3 write failed; retrying");
    });
  }

  /**
   * Saves a state of the request, retrying a failed write (disk full, I/O error) with backoff
   * until it succeeds: the request keeps its last state on disk (and in listings) meanwhile.
   * False when the worker stops first; the request then resumes from its last saved state.
   */
  #save(record: AsyncRequestRecord): Promise<boolean> {
    return retryTransient(
      () => this.#options.queue.put(record),
      this.#backoff,
      this.#stop.signal,
      (error, attempt, delayMs) => {
        this.#retries.record("state-write", error);
        this.#options.log.debug({ err: error, inferenceId: record.inferenceId, status: record.status, attempt, delayMs }, "could not save the async request's state; retrying");
      },
      () => true,
    ).then(
      () => true,
      () => false,
    );
  }

  async #finish(
    record: AsyncRequestRecord,
    status: "completed" | "failed",
    details: Pick<AsyncRequestRecord, "responseContentType" | "failureReason">,
    body: Uint8Array | string,
  ): Promise<void> {
    const topic = this.#options.notifier.topicFor({ status });
    const finished: AsyncRequestRecord = {
      ...record,
      ...details,
      status,
      completedTime: iso(this.#options.now()),
      retryAt: undefined,
      inlineResponse: topic === undefined ? undefined : this.#inline(status, body),
      notification: topic === undefined ? undefined : { status: "pending", attempts: 0 },
    };
    if (!(await this.#save(finished))) return;
    const summary = { inferenceId: record.inferenceId, status, attempts: record.attempts };
    if (status === "completed") this.#options.log.info({ ...summary, outputLocation: record.outputLocation }, "async inference completed");
    else this.#options.log.warn({ ...summary, failureReason: details.failureReason }, "async inference failed");
    if (topic !== undefined) this.#options.notifier.send(record.inferenceId);
  }

  /** The body, base64, when the notification must carry it and it is small enough (≤ 128 KB). */
  #inline(status: "completed" | "failed", body: Uint8Array | string): string | undefined {
    const topic = status === "completed" ? "SUCCESS_NOTIFICATION_TOPIC" : "ERROR_NOTIFICATION_TOPIC";
    if (!this.#options.config.includeInferenceResponseIn.includes(topic)) return undefined;
    const bytes = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return bytes.byteLength <= maxInlineResponseBytes ? bytes.toString("base64") : undefined;
  }
}

/** When a queued request may run: once received, or once its retry time came; at the latest when it expires. */
function dueAt(record: AsyncRequestRecord): number {
  const received = Date.parse(record.receivedTime);
  const retry = record.retryAt === undefined ? received : Date.parse(record.retryAt);
  return Math.min(Math.max(received, retry), expiresAt(record));
}

function expiresAt(record: AsyncRequestRecord): number {
  return Date.parse(record.receivedTime) + record.requestTtlSeconds * 1000;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function jsonFailure(code: string, message: string): FailureBody {
  return { body: Buffer.from(JSON.stringify({ error: { code, message } })), contentType: "application/json" };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { Code?: unknown; code?: unknown }).Code ?? (error as { code?: unknown }).code;
  const label = typeof code === "string" && code !== error.name ? `${error.name} ${code}` : error.name;
  return error.message === "" || error.message === label ? label : `${label}: ${error.message}`;
}
