import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { InferenceTimeoutError } from "../errors.js";
import type { InvocationResult } from "../pipeline.js";
import type { AsyncConfig } from "./config.js";
import { InvokerUnavailableError, ModelInvocationError } from "./errors.js";
import type { Invoker } from "./invoker.js";
import { maxInlineResponseBytes, type Notifier } from "./notifications.js";
import type { AsyncRequestRecord, DurableQueue } from "./queue.js";
import { backoffDelay, isTransientError, retryTransient, type BackoffOptions } from "./retry.js";
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
}

/** A failure's S3 object: the model's own error answer, or a JSON error document. */
interface FailureBody {
  readonly body: Uint8Array;
  readonly contentType: string;
}

/** Container answers that mean "not now": retried until the TTL rather than failed. */
const retriedStatuses = new Set([429, 503]);

/**
 * Takes queued requests, at most `MaxConcurrentInvocationsPerInstance` at a time and oldest first,
 * and runs each: the input object from S3 into one buffer, the invocation through the
 * {@link Invoker} with the request's InvocationTimeoutSeconds, the output (or failure) object to
 * S3, then the notification. A transient failure before the inference (S3 down, model still
 * loading) sends the request back to the queue with backoff until its RequestTTL, which counts
 * from receipt; writes of a computed result are retried in place until they succeed. Requests
 * found running at start-up (the process was killed) run again: delivery is at least once.
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
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: AsyncWorkerOptions) {
    this.#options = options;
    this.#backoff = { baseMs: options.config.retryBaseMs, maxMs: options.config.retryMaxMs };
  }

  /** Requests being processed now. */
  get running(): number {
    return this.#running.size;
  }

  /** Recovers what a previous process left running, resumes pending notifications, starts dispatching. */
  async start(): Promise<void> {
    for (const record of this.#options.queue.list(["running"])) {
      this.#options.log.warn({ inferenceId: record.inferenceId, attempts: record.attempts }, "request was running when the process stopped; queueing it again");
      await this.#options.queue.put({ ...record, status: "queued" });
    }
    this.#options.notifier.resumePending();
    this.wake();
  }

  /** Looks for work now (after a request was queued). */
  wake(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#options.now();
    let nextWake = Number.POSITIVE_INFINITY;
    for (const record of this.#options.queue.list(["queued"])) {
      if (this.#running.size >= this.#options.config.maxConcurrentInvocations) return;
      if (this.#running.has(record.inferenceId)) continue;
      const deadline = expiresAt(record);
      const retryAt = record.retryAt === undefined ? 0 : Date.parse(record.retryAt);
      if (now >= retryAt || now >= deadline) this.#launch(record);
      else nextWake = Math.min(nextWake, retryAt, deadline);
    }
    if (Number.isFinite(nextWake)) this.#timer = setTimeout(() => this.wake(), Math.max(0, nextWake - now));
  }

  /**
   * Stops taking work, waits up to `timeoutMs` for running requests, then abandons the rest:
   * they stay `running` on disk and run again at the next start.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(this.#running.values()), deadline]);
    clearTimeout(timer);
    this.#stop.abort(new Error("The async worker is shutting down"));
    await Promise.all(this.#running.values());
  }

  #launch(record: AsyncRequestRecord): void {
    const run = this.#process(record)
      .catch((error: unknown) => this.#options.log.error({ err: error, inferenceId: record.inferenceId }, "async request processing failed unexpectedly"))
      .finally(() => {
        this.#running.delete(record.inferenceId);
        this.wake();
      });
    this.#running.set(record.inferenceId, run);
  }

  async #process(queued: AsyncRequestRecord): Promise<void> {
    const { queue, log } = this.#options;
    const now = this.#options.now();
    if (now >= expiresAt(queued)) {
      const message = `Request expired: not processed within RequestTTLSeconds (${queued.requestTtlSeconds} s) of being received${queued.lastError === undefined ? "" : `; last error: ${queued.lastError}`}`;
      await this.#fail(queued, `ClientError: ${message}`, jsonFailure("REQUEST_EXPIRED", message));
      return;
    }
    const record: AsyncRequestRecord = { ...queued, status: "running", attempts: queued.attempts + 1, startedTime: iso(now), retryAt: undefined };
    await queue.put(record);
    log.info({ inferenceId: record.inferenceId, attempt: record.attempts, inputLocation: record.inputLocation }, "async inference started");

    const input = parseInputLocation(record.inputLocation) as S3Location;
    let body: Buffer;
    try {
      ({ body } = await downloadObject(this.#options.s3, input, this.#options.config.maxPayloadBytes, this.#stop.signal));
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      if (isTransientError(error)) return this.#requeue(record, `Could not read the input ${record.inputLocation}: ${describe(error)}`);
      const message = `Could not read the input ${record.inputLocation}: ${describe(error)}`;
      return this.#fail(record, `ClientError: ${message}`, jsonFailure("INPUT_UNREADABLE", message));
    }

    log.debug({ inferenceId: record.inferenceId, bytes: body.byteLength }, "input read; invoking the model");
    let result: InvocationResult;
    try {
      result = await this.#invoke(record, body);
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      return this.#onInvocationError(record, error);
    }

    const output = parseS3Uri(record.outputLocation) as S3Location;
    try {
      await this.#write(record, output, result.body, result.contentType);
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      const message = `Could not write the output ${record.outputLocation}: ${describe(error)}`;
      return this.#fail(record, `ServerError: ${message}`, jsonFailure("OUTPUT_UNWRITABLE", message));
    }
    await this.#finish(record, "completed", {
      responseContentType: result.contentType,
      inlineResponse: this.#inline("SUCCESS_NOTIFICATION_TOPIC", result.body),
    });
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
    if (notNow) return this.#requeue(record, (error as Error).message);
    if (error instanceof ModelInvocationError) {
      const kind = error.statusCode < 500 ? "client" : "server";
      const reason = `ClientError: Received ${kind} error (${error.statusCode}) from model with message "${error.originalMessage}". See the endpoint's logs for inference id ${record.inferenceId}.`;
      return this.#fail(record, reason, { body: error.body, contentType: error.contentType });
    }
    this.#options.log.error({ err: error, inferenceId: record.inferenceId }, "async invocation failed");
    const message = `The invocation failed: ${describe(error)}`;
    return this.#fail(record, `ServerError: ${message}`, jsonFailure("INTERNAL_ERROR", message));
  }

  async #requeue(record: AsyncRequestRecord, reason: string): Promise<void> {
    const delayMs = backoffDelay(record.attempts - 1, this.#backoff);
    await this.#options.queue.put({ ...record, status: "queued", retryAt: iso(this.#options.now() + delayMs), lastError: reason });
    this.#options.log.warn({ inferenceId: record.inferenceId, attempt: record.attempts, delayMs, reason }, "transient failure; the request goes back to the queue");
  }

  async #fail(record: AsyncRequestRecord, failureReason: string, failure: FailureBody): Promise<void> {
    const location = record.failureLocation === undefined ? undefined : parseS3Uri(record.failureLocation);
    if (location !== undefined) {
      try {
        await this.#write(record, location, failure.body, failure.contentType);
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        this.#options.log.error({ err: error, inferenceId: record.inferenceId, failureLocation: record.failureLocation }, "could not write the failure object");
      }
    }
    await this.#finish(record, "failed", { failureReason, inlineResponse: this.#inline("ERROR_NOTIFICATION_TOPIC", failure.body) });
  }

  /** Writes an object, retrying transient S3 errors until it is written or the worker stops. */
  #write(record: AsyncRequestRecord, location: S3Location, body: Uint8Array | string, contentType: string): Promise<void> {
    return retryTransient(
      () => uploadObject(this.#options.s3, location, body, contentType, this.#stop.signal),
      this.#backoff,
      this.#stop.signal,
      (error, attempt, delayMs) =>
        this.#options.log.warn({ err: error, inferenceId: record.inferenceId, key: location.key, attempt, delayMs }, "S3 write failed; retrying"),
    );
  }

  async #finish(
    record: AsyncRequestRecord,
    status: "completed" | "failed",
    details: Pick<AsyncRequestRecord, "responseContentType" | "failureReason" | "inlineResponse">,
  ): Promise<void> {
    const topic = this.#options.notifier.topicFor({ status });
    const finished: AsyncRequestRecord = {
      ...record,
      ...details,
      status,
      completedTime: iso(this.#options.now()),
      retryAt: undefined,
      notification: topic === undefined ? undefined : { status: "pending", attempts: 0 },
    };
    await this.#options.queue.put(finished);
    const summary = { inferenceId: record.inferenceId, status, attempts: record.attempts };
    if (status === "completed") this.#options.log.info({ ...summary, outputLocation: record.outputLocation }, "async inference completed");
    else this.#options.log.warn({ ...summary, failureReason: details.failureReason }, "async inference failed");
    if (topic !== undefined) this.#options.notifier.send(record.inferenceId);
  }

  /** The body, base64, when the notification must carry it and it is small enough (≤ 128 KB). */
  #inline(topic: "SUCCESS_NOTIFICATION_TOPIC" | "ERROR_NOTIFICATION_TOPIC", body: Uint8Array | string): string | undefined {
    if (!this.#options.config.includeInferenceResponseIn.includes(topic)) return undefined;
    const bytes = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return bytes.byteLength <= maxInlineResponseBytes ? bytes.toString("base64") : undefined;
  }
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
