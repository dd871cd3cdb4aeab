import { createServer } from "node:http";
import type { Logger } from "pino";
import { createLogger } from "../logger.js";
import { AsyncWorker } from "./async/async-worker.js";
import { requireOutputPath, type AsyncConfig } from "../config/async-config.js";
import { createGatewayApp } from "./runtime-api.js";
import type { Invoker } from "./invoker.js";
import { createSnsClient, Notifier } from "./async/notifications.js";
import { DurableQueue, type AsyncRequestRecord, type AsyncRequestStatus } from "./async/queue.js";
import { createS3Client, type AwsCredentials } from "./async/s3-transfer.js";
import { listen, type ListeningAddress } from "../http/listen.js";

/**
 * How to start async inference.
 *
 * @example
 * ```ts
 * const options: AsyncGatewayOptions = { config: loadAsyncConfig(process.env), invoker: new InProcessInvoker(server), log: server.log };
 * ```
 */
export interface AsyncGatewayOptions {
  readonly config: AsyncConfig;
  /** Where inferences run: {@link InProcessInvoker} beside the model server, {@link HttpInvoker} beside a container. */
  readonly invoker: Invoker;
  /** Defaults to a new logger at `config.logLevel`. */
  readonly log?: Logger;
  /** Credentials for S3 and SNS; defaults to the AWS SDK's chain (environment, profile, instance role). */
  readonly credentials?: AwsCredentials;
  /** Milliseconds since the epoch; defaults to `Date.now` (tests move it to expire requests). */
  readonly now?: () => number;
}

/**
 * A listening gateway with its worker and queue.
 *
 * @example
 * ```ts
 * const gateway = await startAsyncGateway(options);
 * console.log(gateway.url); // http://127.0.0.1:8081
 * await gateway.close();
 * ```
 */
export interface RunningAsyncGateway {
  /** `http://host:port` (loopback when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
  readonly config: AsyncConfig;
  /** One request's record. */
  get(inferenceId: string): AsyncRequestRecord | undefined;
  /** Records, oldest first, optionally of some statuses. */
  list(statuses?: readonly AsyncRequestStatus[]): AsyncRequestRecord[];
  /**
   * Resolves with the record once `until` holds (by default: finished, and its notification no
   * longer pending).
   */
  waitFor(inferenceId: string, until?: (record: AsyncRequestRecord) => boolean): Promise<AsyncRequestRecord>;
  /** Stops accepting, lets running requests finish (up to the shutdown timeout), stops retries, unlocks the queue directory. */
  close(): Promise<void>;
}

const pruneIntervalMs = 3600 * 1000;

/**
 * Starts the local SageMaker async stack: opens (and locks) the durable queue, listens with the
 * SageMaker Runtime gateway, then starts the worker on what a previous run left. Nothing runs
 * unless all of that succeeds: a port in use or a locked queue directory rejects with everything
 * released.
 *
 * @example
 * ```ts
 * const server = await startServer({ modelDir: "model" });
 * const gateway = await startAsyncGateway({ config: loadAsyncConfig(process.env), invoker: new InProcessInvoker(server), log: server.log });
 * ```
 */
export async function startAsyncGateway(options: AsyncGatewayOptions): Promise<RunningAsyncGateway> {
  const { config, invoker } = options;
  const s3OutputPath = requireOutputPath(config);
  const log = (options.log ?? createLogger(config.logLevel)).child({ component: "async" });
  const now = options.now ?? Date.now;
  const queue = await DurableQueue.open(config.queueDir, log, config.endpointName);
  const s3 = createS3Client(config, options.credentials);
  const backoff = { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs };
  const notifier = new Notifier({ sns: createSnsClient(config, options.credentials), queue, config, log, backoff });
  const worker = new AsyncWorker({ queue, invoker, s3, notifier, config, log, now });
  const app = createGatewayApp({ config: { ...config, s3OutputPath }, queue, invoker, log, onQueued: () => worker.wake(), now });
  const server = createServer(app);
  let address: ListeningAddress;
  try {
    await queue.prune(config.retentionMs, now());
    address = await listen(server, config.port, config.host);
  } catch (error) {
    await notifier.close();
    s3.destroy();
    await queue.close();
    throw error;
  }
  worker.start();
  const prune = (): void =>
    void queue.prune(config.retentionMs, now()).catch((error: unknown) => log.error({ err: error }, "pruning finished async requests failed"));
  const pruning = setInterval(prune, pruneIntervalMs).unref();
  const { port, url } = address;
  log.info(
    { port, host: config.host, endpointName: config.endpointName, invoker: invoker.target, queueDir: config.queueDir, maxConcurrentInvocations: config.maxConcurrentInvocations },
    "async gateway listening",
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(pruning);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await worker.close(config.shutdownTimeoutMs);
      server.closeAllConnections();
      await stopped;
      await notifier.close();
      s3.destroy();
      await queue.close();
      log.info("async gateway stopped");
    })();
    return closing;
  };

  const waitFor = (inferenceId: string, until: (record: AsyncRequestRecord) => boolean = isSettled): Promise<AsyncRequestRecord> =>
    new Promise((resolve) => {
      const check = (record: AsyncRequestRecord | undefined): boolean => {
        if (record === undefined || record.inferenceId !== inferenceId || !until(record)) return false;
        unsubscribe();
        resolve(record);
        return true;
      };
      const unsubscribe = queue.onChange(check);
      check(queue.get(inferenceId));
    });

  return {
    url,
    port,
    config,
    get: (inferenceId) => queue.get(inferenceId),
    list: (statuses) => queue.list(statuses),
    waitFor,
    close,
  };
}

function isSettled(record: AsyncRequestRecord): boolean {
  return (record.status === "completed" || record.status === "failed") && record.notification?.status !== "pending";
}

export { asyncModeEnabled, defaultAsyncConfig, loadAsyncConfig, loadAwsEndpoints, type AsyncConfig, type AsyncConfigOverrides, type AwsEndpoints, type InferenceResponseTopic } from "../config/async-config.js";
export { InvocationDroppedError, InvokerUnavailableError, ModelInvocationError, RuntimeApiError } from "./errors.js";
export { HttpInvoker, InProcessInvoker, type Invoker } from "./invoker.js";
export { buildNotification, type InferenceResultNotification } from "./async/notifications.js";
export type { AsyncRequestRecord, AsyncRequestStatus, NotificationStatus } from "./async/queue.js";
export type { AwsCredentials } from "./async/s3-transfer.js";
