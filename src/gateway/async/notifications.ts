import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Logger } from "pino";
import type { AsyncConfig, AwsEndpoints } from "../../config/async-config.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { AsyncRequestRecord, DurableQueue } from "./queue.js";
import { isTransientError, retryTransient, type BackoffOptions } from "./retry.js";
import { RetrySummary } from "./retry-summary.js";
import type { AwsCredentials } from "./s3-transfer.js";

/**
 * The SNS message SageMaker publishes when an async inference finishes (docs/async.md, from the
 * developer guide). `requestParameters.contentType` and `.accept` appear when the request set
 * them, as in messages of the real service. `failureReason` only when Failed; `responseParameters`
 * only when Completed. `responseBody` is the inline response (`IncludeInferenceResponseIn`, at
 * most 128 KB): its shape comes from a secondary source, not AWS's documentation (unconfirmed).
 *
 * @example
 * ```ts
 * const message: InferenceResultNotification = JSON.parse(snsMessage);
 * if (message.invocationStatus === "Completed") console.log(message.responseParameters?.outputLocation);
 * ```
 */
export interface InferenceResultNotification {
  readonly awsRegion: string;
  readonly eventTime: string;
  readonly receivedTime: string;
  readonly invocationStatus: "Completed" | "Failed";
  readonly failureReason?: string;
  readonly requestParameters: {
    readonly accept?: string;
    readonly contentType?: string;
    readonly endpointName: string;
    readonly inputLocation: string;
  };
  readonly responseParameters?: { readonly contentType: string; readonly outputLocation: string };
  readonly responseBody?: { readonly content: string; readonly encoding: "BASE64"; readonly message?: string };
  readonly inferenceId: string;
  readonly eventVersion: "1.0";
  readonly eventSource: "aws:sagemaker";
  readonly eventName: "InferenceResult";
}

/** SageMaker includes the response in the notification only up to this size. */
export const maxInlineResponseBytes = 128 * 1024;

/**
 * The notification for a finished record, with the members in the documented order.
 *
 * @example
 * ```ts
 * const message = buildNotification(record, "us-east-1");
 * ```
 */
export function buildNotification(record: AsyncRequestRecord, region: string): InferenceResultNotification {
  const completed = record.status === "completed";
  const requestParameters = {
    ...(record.accept === undefined ? {} : { accept: record.accept }),
    ...(record.contentType === undefined ? {} : { contentType: record.contentType }),
    endpointName: record.endpointName,
    inputLocation: record.inputLocation,
  };
  return {
    awsRegion: region,
    eventTime: record.completedTime ?? new Date().toISOString(),
    receivedTime: record.receivedTime,
    invocationStatus: completed ? "Completed" : "Failed",
    ...(completed ? {} : { failureReason: record.failureReason ?? "Unknown failure" }),
    requestParameters,
    ...(completed
      ? { responseParameters: { contentType: record.responseContentType ?? "application/octet-stream", outputLocation: record.outputLocation } }
      : {}),
    ...(record.inlineResponse === undefined
      ? {}
      : { responseBody: { content: record.inlineResponse, encoding: "BASE64" as const, ...(completed ? {} : { message: record.failureReason ?? "" }) } }),
    inferenceId: record.inferenceId,
    eventVersion: "1.0",
    eventSource: "aws:sagemaker",
    eventName: "InferenceResult",
  };
}

/**
 * An SNS client for the configured region and endpoint, SDK retries off: {@link Notifier} retries.
 *
 * @example
 * ```ts
 * const sns = createSnsClient(config);
 * ```
 */
export function createSnsClient(endpoints: AwsEndpoints, credentials?: AwsCredentials): SNSClient {
  return new SNSClient({
    region: endpoints.region,
    maxAttempts: 1,
    ...(endpoints.snsEndpoint === undefined ? {} : { endpoint: endpoints.snsEndpoint }),
    ...(credentials === undefined ? {} : { credentials }),
  });
}

/** Publishes in flight at once: enough to keep up with any endpoint, few enough to be polite. */
const maxPublishesInFlight = 16;
const defaultRetrySummaryIntervalMs = 60_000;

/**
 * Publishes the notifications of finished requests. The record says whether its notification is
 * pending, so none is lost: a transient SNS failure (5xx, throttling, no connection) is retried
 * for as long as the process runs, and a restart resumes pending ones. A permanent failure (no
 * such topic, access denied) is logged and kept in the record.
 *
 * At most 16 publishes are in flight; the rest wait their turn in memory. While SNS fails, a
 * {@link CircuitBreaker} lets one publish at a time probe it, with backoff, and the others wait
 * until it answers: 20,000 pending notifications cost one attempt per backoff step, not 20,000.
 *
 * @example
 * ```ts
 * const notifier = new Notifier({ sns, queue, config, log, backoff });
 * notifier.resumePending();
 * ```
 */
export class Notifier {
  readonly #sns: SNSClient;
  readonly #queue: DurableQueue;
  readonly #config: Pick<AsyncConfig, "region" | "successTopic" | "errorTopic">;
  readonly #log: Logger;
  readonly #backoff: BackoffOptions;
  readonly #now: () => number;
  readonly #breaker: CircuitBreaker;
  readonly #retries: RetrySummary;
  readonly #stop = new AbortController();
  /** Waiting for a slot, in the order they were sent (or put back after a transient failure). */
  readonly #waiting = new Set<string>();
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Publish attempts so far, of notifications not yet recorded as sent or failed. */
  readonly #attempts = new Map<string, number>();
  /** The notification let through to probe SNS while the breaker is open. */
  #probe: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    sns: SNSClient;
    queue: DurableQueue;
    config: Pick<AsyncConfig, "region" | "successTopic" | "errorTopic">;
    log: Logger;
    backoff: BackoffOptions;
    /** Milliseconds since the epoch; defaults to `Date.now`. */
    now?: () => number;
    /** How often retried publishes are summed up in one log line, in ms; default 60 s. */
    retrySummaryIntervalMs?: number;
  }) {
    this.#sns = options.sns;
    this.#queue = options.queue;
    this.#config = options.config;
    this.#log = options.log;
    this.#backoff = options.backoff;
    this.#now = options.now ?? Date.now;
    this.#breaker = new CircuitBreaker({ dependency: "SNS", backoff: options.backoff, now: this.#now, log: options.log, onRecovery: () => this.#pump() });
    this.#retries = new RetrySummary(options.log, "notifier", options.retrySummaryIntervalMs ?? defaultRetrySummaryIntervalMs);
  }

  /** The topic a finished record's notification goes to, if one is configured. */
  topicFor(record: Pick<AsyncRequestRecord, "status">): string | undefined {
    return record.status === "completed" ? this.#config.successTopic : this.#config.errorTopic;
  }

  /** Sends every notification the queue marks as pending (after a restart). */
  resumePending(): void {
    for (const record of this.#queue.list(["completed", "failed"])) if (record.notification?.status === "pending") this.send(record.inferenceId);
  }

  /** Starts delivering the pending notification of a record (once, however often called). */
  send(inferenceId: string): void {
    if (this.#inFlight.has(inferenceId) || this.#stop.signal.aborted) return;
    this.#waiting.add(inferenceId);
    this.#pump();
  }

  /** Stops retrying; undelivered notifications stay pending on disk for the next start. */
  async close(): Promise<void> {
    this.#stop.abort(new Error("Notifier closed"));
    clearTimeout(this.#timer);
    await Promise.all(this.#inFlight.values());
    this.#retries.close();
    this.#sns.destroy();
  }

  /** Starts waiting publishes while there are slots, and SNS answers (or a probe is due). */
  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (!this.#stop.signal.aborted && this.#inFlight.size < maxPublishesInFlight) {
      const [next] = this.#waiting;
      if (next === undefined) return;
      if (this.#breaker.isOpen) {
        if (this.#probe !== undefined) return;
        const wait = this.#breaker.probeAt - this.#now();
        if (wait > 0) {
          this.#timer = setTimeout(() => this.#pump(), wait);
          return;
        }
        this.#probe = next;
      }
      this.#waiting.delete(next);
      const delivery = this.#deliver(next)
        .catch((error: unknown) => {
          this.#log.error({ err: error, inferenceId: next }, "notification delivery failed unexpectedly; it stays pending for the next start");
          return false;
        })
        .then((again) => {
          this.#inFlight.delete(next);
          if (this.#probe === next) this.#probe = undefined;
          if (again && !this.#stop.signal.aborted) this.#waiting.add(next);
          this.#pump();
        });
      this.#inFlight.set(next, delivery);
    }
  }

  /** One publish attempt; true after a transient failure, to put the notification back in line. */
  async #deliver(inferenceId: string): Promise<boolean> {
    const record = this.#queue.get(inferenceId);
    const topic = record === undefined ? undefined : this.topicFor(record);
    if (record?.notification?.status !== "pending" || topic === undefined) return false;
    const attempts = (this.#attempts.get(inferenceId) ?? record.notification.attempts) + 1;
    let messageId: string | undefined;
    try {
      const message = JSON.stringify(buildNotification(record, this.#config.region));
      ({ MessageId: messageId } = await this.#sns.send(new PublishCommand({ TopicArn: topic, Message: message }), { abortSignal: this.#stop.signal }));
    } catch (error) {
      // Closed meanwhile: it stays pending on disk, and the next start resumes it.
      if (this.#stop.signal.aborted) return false;
      if (isTransientError(error)) {
        this.#attempts.set(inferenceId, attempts);
        this.#breaker.failed(error);
        this.#retries.record("sns", error);
        this.#log.debug({ err: error, inferenceId, topic, attempt: attempts }, "SNS publish failed; retrying");
        return true;
      }
      this.#breaker.succeeded();
      this.#attempts.delete(inferenceId);
      this.#log.error({ err: error, inferenceId, topic }, "SNS publish failed permanently; the notification is not sent");
      await this.#update(inferenceId, { status: "failed", attempts, error: (error as Error).message });
      return false;
    }
    this.#breaker.succeeded();
    this.#attempts.delete(inferenceId);
    this.#log.info({ inferenceId, topic, messageId }, "notification sent");
    await this.#update(inferenceId, { status: "sent", attempts, messageId });
    return false;
  }

  /**
   * Records the outcome, dropping the inline body the message carried. A failed write (disk full)
   * is retried with backoff until it succeeds or the notifier closes; the record then stays
   * pending on disk and the next start sends it again (at least once).
   */
  async #update(inferenceId: string, notification: NonNullable<AsyncRequestRecord["notification"]>): Promise<void> {
    await retryTransient(
      async () => {
        const current = this.#queue.get(inferenceId);
        if (current !== undefined) await this.#queue.put({ ...current, notification, inlineResponse: undefined });
      },
      this.#backoff,
      this.#stop.signal,
      (error, attempt, delayMs) => this.#log.error({ err: error, inferenceId, attempt, delayMs }, "could not save the notification's state; retrying"),
      () => true,
    ).catch((error: unknown) => {
      if (!this.#stop.signal.aborted) throw error;
    });
  }
}
