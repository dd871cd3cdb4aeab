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
import { ConfigurationError } from "../errors.js";
import { ModelCache } from "./multi-model/model-cache.js";
import type { ModelHost } from "./multi-model/model-host.js";
import { MultiModelEndpoint } from "./multi-model/multi-model-endpoint.js";

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
  /**
   * The multi-model container behind a gateway with a ModelDataUrl (`config.multiModel`):
   * {@link HttpModelHost} beside a container, {@link InProcessModelHost} in `serve`. `loadWaitMs`
   * is how long an invocation waits for its model's load (SageMaker's 60 s by default).
   */
  readonly multiModel?: { readonly host: ModelHost; readonly loadWaitMs?: number };
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
  let multiModel: MultiModelEndpoint | undefined;
  try {
    multiModel = await startMultiModel(options, s3, log, now);
  } catch (error) {
    s3.destroy();
    await queue.close();
    throw error;
  }
  const backoff = { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs };
  const notifier = new Notifier({ sns: createSnsClient(config, options.credentials), queue, config, log, backoff });
  const worker = new AsyncWorker({ queue, invoker, s3, notifier, config, log, now });
  const app = createGatewayApp({ config: { ...config, s3OutputPath }, queue, invoker, multiModel, log, onQueued: () => worker.wake(), now });
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
    {
      port,
      host: config.host,
      endpointName: config.endpointName,
      invoker: invoker.target,
      queueDir: config.queueDir,
      maxConcurrentInvocations: config.maxConcurrentInvocations,
      ...(multiModel === undefined ? {} : { modelDataUrl: config.multiModel.modelDataUrl, modelCacheDir: config.multiModel.cacheDir, modelHost: options.multiModel?.host.target }),
    },
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

/** The multi-model front end a ModelDataUrl asks for (docs/multi-model.md, "Local gateway"), or none. */
async function startMultiModel(options: AsyncGatewayOptions, s3: ReturnType<typeof createS3Client>, log: Logger, now: () => number): Promise<MultiModelEndpoint | undefined> {
  const { modelDataUrl, cacheDir, cacheMaxBytes, containerModelsDir } = options.config.multiModel;
  if (modelDataUrl === undefined) {
    if (options.multiModel !== undefined) throw new ConfigurationError("A multi-model gateway needs the models' S3 prefix: set BYOC_MME_MODEL_DATA_URL (or --model-data-url)");
    return undefined;
  }
  if (options.multiModel === undefined) throw new ConfigurationError(`--model-data-url ${modelDataUrl} makes a multi-model gateway, which needs a multi-model container behind it`);
  const { host, loadWaitMs } = options.multiModel;
  // The cache asks the endpoint which models the container holds; the endpoint needs the cache.
  const created: { endpoint?: MultiModelEndpoint } = {};
  const cache = await ModelCache.open({ root: cacheDir, maxBytes: cacheMaxBytes, s3, archiveLimits: {}, isLoaded: (name) => created.endpoint?.isLoaded(name) ?? false, log, now });
  created.endpoint = new MultiModelEndpoint({ modelDataUrl, containerModelsDir, cache, host, log, now, ...(loadWaitMs === undefined ? {} : { loadWaitMs }) });
  return created.endpoint;
}

function isSettled(record: AsyncRequestRecord): boolean {
  return (record.status === "completed" || record.status === "failed") && record.notification?.status !== "pending";
}

export { asyncModeEnabled, defaultAsyncConfig, loadAsyncConfig, loadAwsEndpoints, type AsyncConfig, type AsyncConfigOverrides, type AwsEndpoints, type InferenceResponseTopic } from "../config/async-config.js";
export { InvocationDroppedError, InvokerUnavailableError, ModelInvocationError, RuntimeApiError } from "./errors.js";
export { HttpInvoker, InProcessInvoker, type Invoker } from "./invoker.js";
export { HttpModelHost, InProcessModelHost, type ModelHost } from "./multi-model/model-host.js";
export { buildNotification, type InferenceResultNotification } from "./async/notifications.js";
export type { AsyncRequestRecord, AsyncRequestStatus, NotificationStatus } from "./async/queue.js";
export type { AwsCredentials } from "./async/s3-transfer.js";
