import { createServer } from "node:http";
import { join } from "node:path";
import type { Logger } from "pino";
import { loadConfig, type ConfigOverrides, type ServerConfig } from "./config/server-config.js";
import type { DataPlane } from "./dispatch/data-plane.js";
import { ModelRegistry } from "./dispatch/model-registry.js";
import { SingleModel } from "./dispatch/single-model.js";
import { ModelNotFoundError } from "./errors.js";
import { WorkerPool, type InvokeOptions } from "./dispatch/worker-pool.js";
import { Connections } from "./http/connections.js";
import { listen } from "./http/listen.js";
import { createLogger, flushLog } from "./logger.js";
import { resolveModelSource } from "./models/model-source.js";
import type { InvocationRequest, InvocationResult } from "./pipeline/inference-pipeline.js";
import { createRequestListener } from "./protocols/sagemaker/listener.js";

/** A server that is listening; the model may still be loading. */
export interface RunningServer {
  /** `http://host:port` it listens on (loopback address when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
  readonly config: ServerConfig;
  readonly log: Logger;
  /** Settles when the model has loaded (or failed to: `/ping` then answers 503 with the reason). */
  readonly loaded: Promise<void>;
  /** What `/ping` reports: true once the model is loaded and a worker can serve (multi-model: once the workers run). */
  readonly ready: boolean;
  /** Where requests meet the models: what the front doors call. */
  readonly plane: DataPlane;
  /** The models of a multi-model endpoint (`--multi-model`); `undefined` otherwise. */
  readonly registry: ModelRegistry | undefined;
  /**
   * Runs one request through the workers, as `/invocations` does, without HTTP: for the async
   * worker. Rejects with `ModelNotReadyError` until the model is loaded.
   */
  invoke(request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult>;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), releases the models and stops the workers. */
  close(): Promise<void>;
}

/**
 * A client must send its request headers within this time. The request body is bounded by the
 * invocation time limit instead (Node's own `requestTimeout` would cut it at 300 s regardless).
 */
const headersTimeoutMs = 20_000;

/** The name the single model of a server goes by, in logs and in the worker pool. */
const modelName = "model";

/**
 * Starts the SageMaker-compatible server: listens at once (SageMaker expects connections to be
 * accepted within 250 ms, docs/sagemaker-contract.md), then extracts the model archive if there
 * is one, finds the handlers and loads the model in the workers while `/ping` answers 503.
 *
 * @example
 * ```ts
 * const server = await startServer({ modelDir: "examples/iris/model", port: 0 });
 * await server.loaded;
 * ```
 */
export async function startServer(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Promise<RunningServer> {
  const config = loadConfig(env, overrides);
  const log = createLogger(config.logLevel);
  const pool = new WorkerPool({
    size: config.workers,
    log,
    recycleMs: config.workerRecycleMs,
    setup: {
      config: {
        logLevel: config.logLevel,
        defaultAccept: config.defaultAccept,
        defaultContentType: config.defaultContentType,
        onnx: config.onnx,
        multipart: config.multipart,
        batching: config.batching,
      },
      primeOnnxRuntime: config.multiModel,
    },
  });
  const single = config.multiModel ? undefined : new SingleModel(pool, modelName, log);
  const registry = config.multiModel
    ? new ModelRegistry({
        pool,
        modelsRoot: config.modelsRoot,
        memoryBudgetBytes: config.modelMemoryBudgetBytes,
        extractRoot: join(config.extractDir, "models"),
        archiveLimits: config.archive,
        sagemakerProgram: config.sagemakerProgram,
        fallbackHandlers: config.handlersPath,
        drainMs: config.shutdownTimeoutMs,
        log,
        now: Date.now,
      })
    : undefined;
  const plane: DataPlane = (single ?? registry) as DataPlane;
  const server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: 0 });
  const connections = new Connections(server, { maxConnections: config.maxConnections, log });
  const listener = createRequestListener({
    connections,
    plane,
    defaultModel: single?.name,
    registry,
    log,
    timeoutMs: config.timeoutMs,
    maxPayloadBytes: config.maxPayloadBytes,
    maxConcurrentRequests: config.maxConcurrentRequests,
    maxInFlightBytes: config.maxInFlightBytes,
    batch: { config: config.batch, workers: config.workers },
  });
  server.on("request", listener);
  const { port, url } = await listen(server, config.port, config.host);
  log.info({ port, host: config.host, workers: config.workers, timeoutMs: config.timeoutMs, multiModel: config.multiModel }, "listening");

  const loaded =
    registry !== undefined
      ? registry.start().then(
          () => log.info({ modelsRoot: config.modelsRoot, memoryBudgetBytes: config.modelMemoryBudgetBytes }, "multi-model endpoint ready; /ping answers 200"),
          (error: unknown) => log.error({ err: error }, "workers failed to start; /ping answers 503"),
        )
      : (single as SingleModel).start(() =>
          resolveModelSource({
            name: modelName,
            modelDir: config.modelDir,
            extractDir: config.extractDir,
            archiveLimits: config.archive,
            handlersPath: config.handlersPath,
            sagemakerProgram: config.sagemakerProgram,
            log,
          }),
        );
  const invoke = (request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult> => {
    if (single === undefined) return Promise.reject(new ModelNotFoundError("A multi-model endpoint runs requests through POST /models/{name}/invoke"));
    return single.invoke(modelName, request, signal, options);
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info({ timeoutMs: config.shutdownTimeoutMs }, "shutting down: draining in-flight requests");
      await Promise.all([connections.drain(config.shutdownTimeoutMs), loaded]);
      await pool.close(1_000);
      log.info("stopped");
      await flushLog(log);
    })();
    return closing;
  };

  return {
    url,
    port,
    config,
    log,
    loaded,
    get ready() {
      return plane.readiness.ready;
    },
    plane,
    registry,
    invoke,
    close,
  };
}
